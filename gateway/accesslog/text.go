package accesslog

import (
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"
)

// Format appends e to buf as one line of Istio's default text access log (Envoy's
// EnvoyTextLogFormat as istiod configures it), newline included, and returns the extended
// buffer. It does not allocate when buf has room.
//
// Values are written as Envoy writes them, except that bytes which could forge a line or a
// field (control characters, DEL and '"') and bytes that are not UTF-8 are written as \xHH: a
// hostile User-Agent must not be able to start a second log line, shift the fields a log
// parser splits on, or make a log shipper reject the line.
func Format(buf []byte, e *Entry) []byte {
	b := append(buf, '[')
	b = appendTime(b, e.StartTime)
	b = append(b, "] \""...)
	b = appendText(b, e.Method)
	b = append(b, ' ')
	b = appendText(b, e.Path)
	b = append(b, ' ')
	b = appendText(b, e.Protocol)
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(e.ResponseCode), 10)
	b = append(b, ' ')
	b = e.ResponseFlags.AppendTo(b)
	b = append(b, ' ')
	b = appendText(b, e.ResponseCodeDetails)
	b = append(b, ' ')
	b = appendText(b, e.ConnectionTerminationDetails)
	b = append(b, " \""...)
	b = appendText(b, e.UpstreamTransportFailureReason)
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, e.BytesReceived, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.BytesSent, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.Duration.Milliseconds(), 10)
	b = append(b, ' ')
	if e.HasUpstreamServiceTime {
		b = strconv.AppendInt(b, e.UpstreamServiceTime.Milliseconds(), 10)
	} else {
		b = append(b, '-')
	}
	b = append(b, " \""...)
	b = appendText(b, e.XForwardedFor)
	b = append(b, "\" \""...)
	b = appendText(b, e.UserAgent)
	b = append(b, "\" \""...)
	b = appendText(b, e.RequestID)
	b = append(b, "\" \""...)
	b = appendText(b, e.Authority)
	b = append(b, "\" \""...)
	b = appendAddr(b, e.UpstreamHost)
	b = append(b, "\" "...)
	b = appendText(b, e.UpstreamCluster)
	b = append(b, ' ')
	b = appendAddr(b, e.UpstreamLocalAddress)
	b = append(b, ' ')
	b = appendAddr(b, e.DownstreamLocalAddress)
	b = append(b, ' ')
	b = appendAddr(b, e.DownstreamRemoteAddress)
	b = append(b, ' ')
	b = appendText(b, e.RequestedServerName)
	b = append(b, ' ')
	b = appendText(b, e.RouteName)
	return append(b, '\n')
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, '-')
	}
	return appendStartTime(b, t)
}

// appendStartTime writes Envoy's default %START_TIME%, 2006-01-02T15:04:05.000Z in UTC. It is
// written by hand because time.AppendFormat, parsing its layout each call, was most of the
// cost of formatting a line.
func appendStartTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/int(time.Millisecond), 3)
	return append(b, 'Z')
}

// appendDigits writes n zero-padded to width digits; n is never negative here (years before
// 0 AD do not occur in a request's start time) and wider values are written in full.
func appendDigits(b []byte, n, width int) []byte {
	var d [20]byte
	i := len(d)
	for n >= 10 || width > 1 {
		i--
		d[i] = byte('0' + n%10)
		n /= 10
		width--
	}
	i--
	d[i] = byte('0' + n)
	return append(b, d[i:]...)
}

// appendAddr prints an address as Envoy does: IPv4 plainly even when the socket reported it
// IPv4-mapped, IPv6 in brackets.
func appendAddr(b []byte, a netip.AddrPort) []byte {
	if !a.IsValid() {
		return append(b, '-')
	}
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port()).AppendTo(b)
}

const hexDigits = "0123456789abcdef"

// textSpecial marks the bytes appendText must look at: those it escapes, and the first bytes
// of multi-byte UTF-8, which it must validate. Everything else is copied in runs.
var textSpecial = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c < 0x20 || c == '"' || c >= 0x7f
	}
	return t
}()

func appendText(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if !textSpecial[c] {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = appendHexByte(append(b, s[start:i]...), c)
				start = i + 1
			}
			i += size
			continue
		}
		b = appendHexByte(append(b, s[start:i]...), c)
		i++
		start = i
	}
	return append(b, s[start:]...)
}

func appendHexByte(b []byte, c byte) []byte {
	return append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
}
