package h1frame

import "bytes"

// Verdict is what Scan decided about the bytes it was given.
type Verdict uint8

const (
	// Continue: deliver the n bytes and keep sniffing.
	Continue Verdict = iota
	// Reject: deliver the n bytes before the offending header block; the block must never
	// reach the server.
	Reject
	// Pass: deliver every byte; the connection is not HTTP/1 any more (HTTP/2 prior knowledge).
	Pass
	// Broken: deliver the n bytes, up to and including one Go's chunked reader fails on too;
	// nothing after it can be framed.
	Broken
)

// Reasons for Reject, named after Envoy's %RESPONSE_CODE_DETAILS% for the same requests.
const (
	ReasonCLAndTE     = "http1.content_length_and_chunked_not_allowed"
	ReasonTEOnHTTP10  = "http1.invalid_transfer_encoding"
	ReasonBadCL       = "http1.codec_error"
	ReasonFoldedFrame = "http1.codec_error" // obs-fold beside Content-Length or Transfer-Encoding
)

type state uint8

const (
	sReqStart     state = iota // before a request line: CR and LF are skipped, as Go does after a POST
	sReqLine                   // in the request line
	sHdrStart                  // at the start of a header line
	sHdrCR                     // CR at the start of a header line
	sHdrFold                   // leading whitespace of a folded line
	sHdrName                   // in a header name that may still be Content-Length or Transfer-Encoding
	sHdrOWS                    // whitespace after such a name, before its colon
	sCLLead                    // Content-Length value: whitespace before the digits
	sCLDigits                  // Content-Length value: digits
	sCLTrail                   // Content-Length value: whitespace after the digits
	sCLCR                      // Content-Length value: CR before LF
	sHdrSkip                   // the rest of a header line that does not matter
	sBody                      // a Content-Length body
	sChunkSize                 // chunk-size hex digits
	sChunkOWS                  // whitespace after the chunk size
	sChunkExt                  // a chunk extension
	sChunkLF                   // LF after a chunk line's CR
	sChunkData                 // chunk data
	sChunkDataCR               // CR after chunk data
	sChunkDataLF               // LF after chunk data
	sTrailerStart              // at the start of a trailer line
	sTrailerCR                 // CR at the start of a trailer line
	sTrailerLine               // in a trailer line
	sPass                      // not HTTP/1: every byte passes
	sBroken                    // nothing can be framed after a chunked coding error
)

const (
	nameCL = "content-length"
	nameTE = "transfer-encoding"
	pri    = "PRI * HTTP/2.0" // the HTTP/2 connection preface's request line
	http10 = uint64('H')<<56 | uint64('T')<<48 | uint64('T')<<40 | uint64('P')<<32 |
		uint64('/')<<24 | uint64('1')<<16 | uint64('.')<<8 | uint64('0')
	maxContentLength = 1<<63 - 1 // Go parses Content-Length into an int64
	maxChunkDigits   = 16        // Go's chunked reader reads at most 16 hex digits
)

const (
	candCL = 1 << iota
	candTE
)

// Sniffer follows the framing of an HTTP/1.x request stream, fed in order by Scan. Its state is
// a fixed set of counters and flags: no line is buffered, so no header or line length bounds
// it; the server's MaxHeaderBytes bounds what it is shown of one header block.
type Sniffer struct {
	st state

	// Request line: how much of it matched the HTTP/2 preface, and its last 8 bytes (without a
	// final CR), where a valid request line has its HTTP version.
	pos    int
	notPRI bool
	cr     bool
	tail   uint64

	// Header line: which framing names the line's name can still be.
	cand uint8

	// Header block.
	cl, te, fold, clBad, clSet bool
	clVal                      uint64
	cur                        uint64 // the Content-Length value being read
	digits                     int    // digits of cur

	// Body.
	remain uint64 // bytes left of a Content-Length body or chunk
	reason string
}

// Reason is why Scan returned Reject.
func (s *Sniffer) Reason() string { return s.reason }

// Scan advances over p, the next bytes the client sent, and returns how many of them the server
// may read and what to do with the rest. After Reject or Broken it must not be called again;
// after Pass every later byte passes.
func (s *Sniffer) Scan(p []byte) (int, Verdict) {
	if s.st == sPass {
		return len(p), Pass
	}
	// block is where the current header block starts in p, or 0 when it started in an
	// earlier read (or none is open): a rejected block is cut there.
	block := 0
	for i := 0; i < len(p); i++ {
		b := p[i]
		switch s.st {
		case sReqStart:
			if b == '\r' || b == '\n' {
				continue
			}
			block = i
			s.startRequest()
			s.requestByte(b)
		case sReqLine:
			if b != '\n' {
				s.requestByte(b)
				continue
			}
			if s.isPRI() {
				s.st = sPass
				return len(p), Pass
			}
			s.st = sHdrStart
		case sHdrStart:
			switch b {
			case '\n':
				if v := s.endHeaders(); v == Reject {
					return block, Reject
				}
			case '\r':
				s.st = sHdrCR
			case ' ', '\t':
				s.fold = true
				s.st = sHdrFold
			default:
				s.startName(b)
			}
		case sHdrCR:
			if b != '\n' {
				// Go rejects a header line starting with CR; the rest of it does not matter.
				s.st = sHdrSkip
				continue
			}
			if v := s.endHeaders(); v == Reject {
				return block, Reject
			}
		case sHdrFold:
			switch b {
			case ' ', '\t':
			case '\n':
				s.st = sHdrStart
			default:
				// A folded line is read as a header line of its own too: a parser that
				// does not unfold sees its name.
				s.startName(b)
			}
		case sHdrName:
			s.nameByte(b)
		case sHdrOWS:
			switch b {
			case ' ', '\t':
			case ':':
				s.colon()
			case '\n':
				s.st = sHdrStart
			default:
				s.st = sHdrSkip
			}
		case sCLLead, sCLDigits, sCLTrail, sCLCR:
			s.clByte(b)
		case sHdrSkip:
			j := bytes.IndexByte(p[i:], '\n')
			if j < 0 {
				return len(p), Continue
			}
			i += j
			s.st = sHdrStart
		case sBody, sChunkData:
			k := min(uint64(len(p)-i), s.remain)
			s.remain -= k
			i += int(k) - 1
			if s.remain == 0 {
				if s.st == sBody {
					s.st = sReqStart
				} else {
					s.st = sChunkDataCR
				}
			}
		case sChunkSize:
			if d, ok := hexDigit(b); ok {
				if s.digits == maxChunkDigits {
					return i + 1, s.broken()
				}
				s.remain = s.remain<<4 | uint64(d)
				s.digits++
				continue
			}
			switch {
			case s.digits == 0:
				return i + 1, s.broken()
			case b == ';':
				s.st = sChunkExt
			case b == ' ' || b == '\t':
				s.st = sChunkOWS
			case b == '\r':
				s.st = sChunkLF
			default:
				return i + 1, s.broken()
			}
		case sChunkOWS:
			// Go trims trailing whitespace before cutting the extension: "5 ;x" is an error.
			switch b {
			case ' ', '\t':
			case '\r':
				s.st = sChunkLF
			default:
				return i + 1, s.broken()
			}
		case sChunkExt:
			switch b {
			case '\r':
				s.st = sChunkLF
			case '\n':
				return i + 1, s.broken()
			}
		case sChunkLF:
			if b != '\n' {
				return i + 1, s.broken()
			}
			if s.remain == 0 {
				s.st = sTrailerStart
			} else {
				s.st = sChunkData
			}
		case sChunkDataCR:
			if b != '\r' {
				return i + 1, s.broken()
			}
			s.st = sChunkDataLF
		case sChunkDataLF:
			if b != '\n' {
				return i + 1, s.broken()
			}
			s.st, s.remain, s.digits = sChunkSize, 0, 0
		case sTrailerStart:
			switch b {
			case '\n':
				s.st = sReqStart
			case '\r':
				s.st = sTrailerCR
			default:
				s.st = sTrailerLine
			}
		case sTrailerCR:
			if b == '\n' {
				s.st = sReqStart
			} else {
				s.st = sTrailerLine
			}
		case sTrailerLine:
			if b == '\n' {
				s.st = sTrailerStart
			}
		case sPass:
			return len(p), Pass
		case sBroken:
			return i, Broken
		}
	}
	return len(p), Continue
}

func (s *Sniffer) broken() Verdict {
	s.st = sBroken
	return Broken
}

func (s *Sniffer) startRequest() {
	*s = Sniffer{st: sReqLine}
}

func (s *Sniffer) requestByte(b byte) {
	if s.pos < len(pri) && b != pri[s.pos] {
		s.notPRI = true
	}
	if s.pos <= len(pri) {
		s.pos++
	}
	if s.cr {
		s.tail = s.tail<<8 | '\r'
		s.cr = false
	}
	if b == '\r' {
		// One CR before the LF is the line ending, as Go's line reader strips it.
		s.cr = true
		return
	}
	s.tail = s.tail<<8 | uint64(b)
}

// isPRI reports whether the request line just ended was the HTTP/2 preface's: Go's server then
// serves the connection as HTTP/2 (or closes it after one response).
func (s *Sniffer) isPRI() bool {
	n := s.pos
	if s.cr {
		n--
	}
	return !s.notPRI && n == len(pri)
}

func (s *Sniffer) startName(b byte) {
	s.st, s.pos, s.cand = sHdrName, 0, candCL|candTE
	s.nameByte(b)
}

func (s *Sniffer) nameByte(b byte) {
	switch b {
	case ':':
		s.colon()
		return
	case ' ', '\t':
		// Go rejects whitespace before the colon; another parser may not.
		s.st = sHdrOWS
		return
	case '\n':
		s.st = sHdrStart
		return
	}
	if 'A' <= b && b <= 'Z' {
		b += 'a' - 'A'
	}
	if s.cand&candCL != 0 && (s.pos >= len(nameCL) || nameCL[s.pos] != b) {
		s.cand &^= candCL
	}
	if s.cand&candTE != 0 && (s.pos >= len(nameTE) || nameTE[s.pos] != b) {
		s.cand &^= candTE
	}
	s.pos++
	if s.cand == 0 {
		s.st = sHdrSkip
	}
}

func (s *Sniffer) colon() {
	switch {
	case s.cand&candCL != 0 && s.pos == len(nameCL):
		s.cl = true
		s.st, s.cur, s.digits = sCLLead, 0, 0
	case s.cand&candTE != 0 && s.pos == len(nameTE):
		s.te = true
		s.st = sHdrSkip
	default:
		s.st = sHdrSkip
	}
}

// clByte reads a Content-Length value as Go accepts it: whitespace, decimal digits up to
// 2^63-1, whitespace. Anything else is a value Go rejects too.
func (s *Sniffer) clByte(b byte) {
	switch {
	case b == '\n':
		s.endCL()
		return
	case s.st == sCLCR:
		s.badCL()
		return
	case b == '\r':
		s.st = sCLCR
		return
	case b == ' ' || b == '\t':
		if s.st == sCLDigits {
			s.st = sCLTrail
		}
		return
	case '0' <= b && b <= '9' && s.st != sCLTrail:
		d := uint64(b - '0')
		if s.cur > (maxContentLength-d)/10 {
			s.badCL()
			return
		}
		s.cur = s.cur*10 + d
		s.digits++
		s.st = sCLDigits
		return
	}
	s.badCL()
}

func (s *Sniffer) endCL() {
	s.st = sHdrStart
	switch {
	case s.digits == 0:
		s.clBad = true
	case s.clSet && s.clVal != s.cur:
		s.clBad = true
	default:
		s.clSet, s.clVal = true, s.cur
	}
}

func (s *Sniffer) badCL() {
	s.clBad = true
	s.st = sHdrSkip
}

// endHeaders decides on a complete header block, before the server may see its end.
func (s *Sniffer) endHeaders() Verdict {
	switch {
	case s.cl && s.te:
		s.reason = ReasonCLAndTE
	case s.te && s.tail == http10:
		// Go ignores Transfer-Encoding on HTTP/1.0 and would read the chunked body as the
		// next request; RFC 9112 §6.1 calls such framing faulty.
		s.reason = ReasonTEOnHTTP10
	case s.fold && (s.cl || s.te):
		s.reason = ReasonFoldedFrame
	case s.clBad:
		s.reason = ReasonBadCL
	}
	if s.reason != "" {
		s.st = sBroken
		return Reject
	}
	switch {
	case s.te:
		// Go serves only "chunked"; any other coding gets its 501 and the connection closes.
		s.st, s.remain, s.digits = sChunkSize, 0, 0
	case s.clVal > 0:
		s.st, s.remain = sBody, s.clVal
	default:
		s.st = sReqStart
	}
	return Continue
}

func hexDigit(b byte) (byte, bool) {
	switch {
	case '0' <= b && b <= '9':
		return b - '0', true
	case 'a' <= b && b <= 'f':
		return b - 'a' + 10, true
	case 'A' <= b && b <= 'F':
		return b - 'A' + 10, true
	}
	return 0, false
}
