package accesslog

import (
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// appendValue appends the segment's operator value for e.
func (s *segment) appendValue(b []byte, e *Entry) []byte {
	switch s.op {
	case opNone:
		return appendMissing(b, s.mode)
	case opStartTime:
		if e.StartTime.IsZero() {
			return appendMissing(b, s.mode)
		}
		b = openString(b, s.mode)
		mark := len(b)
		if s.time == nil {
			b = appendStartTime(b, e.StartTime)
		} else {
			b = s.time.appendTo(b, e.StartTime)
		}
		return closeString(s.truncate(b, mark), s.mode)
	case opResponseFlags:
		b = openString(b, s.mode)
		mark := len(b)
		b = e.ResponseFlags.AppendTo(b)
		return closeString(s.truncate(b, mark), s.mode)
	case opGRPCStatus:
		return s.appendGRPCStatus(b, e.ResponseHeaders)
	case opTLSVersion:
		if v := tlsVersionName(e.TLSVersion); v != "" {
			return s.appendString(b, v)
		}
		return appendMissing(b, s.mode)
	case opPeerURISAN:
		return s.appendURISANs(b, e)
	case opResponseCode:
		return s.appendInt(b, int64(e.ResponseCode), true)
	case opBytesReceived:
		return s.appendInt(b, e.BytesReceived, true)
	case opBytesSent:
		return s.appendInt(b, e.BytesSent, true)
	case opDuration:
		return s.appendInt(b, e.Duration.Milliseconds(), true)
	case opUpstreamServiceTime:
		if !e.HasUpstreamServiceTime {
			return appendMissing(b, s.mode)
		}
		return s.appendInt(b, e.UpstreamServiceTime.Milliseconds(), false)
	case opResponseDuration:
		if !e.HasUpstreamServiceTime {
			return appendMissing(b, s.mode)
		}
		return s.appendInt(b, e.ResponseDuration.Milliseconds(), true)
	case opResponseTxDuration:
		if !e.HasUpstreamServiceTime {
			return appendMissing(b, s.mode)
		}
		return s.appendInt(b, (e.Duration - e.ResponseDuration).Milliseconds(), true)
	case opAttemptCount:
		if e.UpstreamRequestAttemptCount == 0 {
			return appendMissing(b, s.mode)
		}
		return s.appendInt(b, int64(e.UpstreamRequestAttemptCount), true)
	case opUpstreamHost:
		return s.appendAddr(b, e.UpstreamHost)
	case opUpstreamLocalAddress:
		return s.appendAddr(b, e.UpstreamLocalAddress)
	case opDownstreamLocalAddress:
		return s.appendAddr(b, e.DownstreamLocalAddress)
	case opDownstreamRemoteAddress:
		return s.appendAddr(b, e.DownstreamRemoteAddress)
	case opDownstreamDirectRemoteAddress:
		return s.appendAddr(b, e.DownstreamDirectRemoteAddress)
	}
	v := stringValue(e, s.op, s.key)
	if v == "" && s.alt != opLiteral {
		v = stringValue(e, s.alt, s.altKey)
	}
	if s.noQuery {
		v, _, _ = strings.Cut(v, "?")
	}
	return s.appendString(b, v)
}

// stringValue is the value of a string operator; "" when e has none.
func stringValue(e *Entry, o op, key string) string {
	switch o {
	case opMethod:
		return e.Method
	case opPath:
		return e.Path
	case opAuthority:
		return e.Authority
	case opScheme:
		return e.Scheme
	case opUserAgent:
		return e.UserAgent
	case opRequestID:
		return e.RequestID
	case opForwardedFor:
		return e.XForwardedFor
	case opReqHeader:
		return first(e.RequestHeaders[key])
	case opRespHeader:
		return first(e.ResponseHeaders[key])
	case opTrailer:
		return trailer(e.ResponseHeaders, key)
	case opProtocol:
		return e.Protocol
	case opResponseCodeDetails:
		return e.ResponseCodeDetails
	case opConnectionTerminationDetails:
		return e.ConnectionTerminationDetails
	case opUpstreamTransportFailureReason:
		return e.UpstreamTransportFailureReason
	case opUpstreamCluster:
		return e.UpstreamCluster
	case opRequestedServerName:
		return e.RequestedServerName
	case opRouteName:
		return e.RouteName
	}
	return ""
}

// first is a header's first value, as Envoy's header operators print a repeated header.
func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// trailer finds a response trailer where net/http keeps it: under http.TrailerPrefix when
// the handler set it after the body, or under its own name when the "Trailer" header declared
// it.
func trailer(h http.Header, key string) string {
	if h == nil {
		return ""
	}
	if v := h[http.TrailerPrefix+key]; len(v) > 0 {
		return v[0]
	}
	for _, declared := range h["Trailer"] {
		for declared != "" {
			var name string
			name, declared, _ = strings.Cut(declared, ",")
			if strings.EqualFold(strings.TrimSpace(name), key) {
				return first(h[key])
			}
		}
	}
	return ""
}

func (s *segment) appendString(b []byte, v string) []byte {
	if s.maxLen > 0 && len(v) > s.maxLen {
		v = v[:s.maxLen]
	}
	return appendString(b, s.mode, v)
}

// appendString writes a string value for mode; "" is missing.
func appendString(b []byte, m mode, v string) []byte {
	switch m {
	case modeText:
		return appendText(b, v)
	case modeJSONString:
		if v == "" {
			return append(b, '-')
		}
		return appendJSONChars(b, v)
	}
	if v == "" {
		return append(b, "null"...)
	}
	return appendJSONString(b, v)
}

func appendMissing(b []byte, m mode) []byte {
	if m == modeJSONTyped {
		return append(b, "null"...)
	}
	return append(b, '-')
}

// openString and closeString bracket a value whose bytes need no escaping (times, addresses,
// flags): quoted as a typed JSON string, bare elsewhere.
func openString(b []byte, m mode) []byte {
	if m == modeJSONTyped {
		return append(b, '"')
	}
	return b
}

func closeString(b []byte, m mode) []byte { return openString(b, m) }

// truncate applies the %OP:N% length limit to what was written since mark. Only values that
// need no escaping come here, so bytes and characters are the same.
func (s *segment) truncate(b []byte, mark int) []byte {
	if s.maxLen > 0 && len(b)-mark > s.maxLen {
		return b[:mark+s.maxLen]
	}
	return b
}

// appendInt writes a number; a typed JSON value is a number when number is set (counts,
// durations), else a string (values that are header values in Envoy).
func (s *segment) appendInt(b []byte, n int64, number bool) []byte {
	quote := s.mode == modeJSONTyped && (!number || s.maxLen > 0)
	if quote {
		b = append(b, '"')
	}
	mark := len(b)
	b = s.truncate(strconv.AppendInt(b, n, 10), mark)
	if quote {
		b = append(b, '"')
	}
	return b
}

func (s *segment) appendAddr(b []byte, a netip.AddrPort) []byte {
	if !a.IsValid() {
		return appendMissing(b, s.mode)
	}
	switch s.part {
	case addrPort:
		return s.appendInt(b, int64(a.Port()), true)
	case addrIP:
		b = openString(b, s.mode)
		mark := len(b)
		b = a.Addr().Unmap().AppendTo(b)
		return closeString(s.truncate(b, mark), s.mode)
	}
	b = openString(b, s.mode)
	mark := len(b)
	b = appendAddr(b, a)
	return closeString(s.truncate(b, mark), s.mode)
}

// tlsVersionName spells a TLS version as Envoy's %DOWNSTREAM_TLS_VERSION% does.
func tlsVersionName(v uint16) string {
	switch v {
	case 0x0301:
		return "TLSv1"
	case 0x0302:
		return "TLSv1.1"
	case 0x0303:
		return "TLSv1.2"
	case 0x0304:
		return "TLSv1.3"
	}
	return ""
}

// appendURISANs writes the client certificate's URI SANs joined by ',', as Envoy does. URLs
// are appended in place; the rare one with bytes that need escaping is escaped afterwards.
func (s *segment) appendURISANs(b []byte, e *Entry) []byte {
	if e.PeerCertificate == nil || len(e.PeerCertificate.URIs) == 0 {
		return appendMissing(b, s.mode)
	}
	b = openString(b, s.mode)
	mark := len(b)
	for i, u := range e.PeerCertificate.URIs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendURI(b, u)
	}
	special := &textSpecial
	if s.mode != modeText {
		special = &jsonSpecial
	}
	for _, c := range b[mark:] {
		if special[c] {
			raw := string(b[mark:])
			b = b[:mark]
			if s.maxLen > 0 && len(raw) > s.maxLen {
				raw = raw[:s.maxLen]
			}
			if s.mode == modeText {
				b = appendText(b, raw)
			} else {
				b = appendJSONChars(b, raw)
			}
			return closeString(b, s.mode)
		}
	}
	return closeString(s.truncate(b, mark), s.mode)
}

// grpcNames are the gRPC status codes as Envoy's GRPC_STATUS prints them: CamelCase by
// default, SNAKE_CASE with SNAKE_STRING.
var grpcNames = [...][2]string{
	{"OK", "OK"}, {"Canceled", "CANCELLED"}, {"Unknown", "UNKNOWN"},
	{"InvalidArgument", "INVALID_ARGUMENT"}, {"DeadlineExceeded", "DEADLINE_EXCEEDED"},
	{"NotFound", "NOT_FOUND"}, {"AlreadyExists", "ALREADY_EXISTS"},
	{"PermissionDenied", "PERMISSION_DENIED"}, {"ResourceExhausted", "RESOURCE_EXHAUSTED"},
	{"FailedPrecondition", "FAILED_PRECONDITION"}, {"Aborted", "ABORTED"},
	{"OutOfRange", "OUT_OF_RANGE"}, {"Unimplemented", "UNIMPLEMENTED"}, {"Internal", "INTERNAL"},
	{"Unavailable", "UNAVAILABLE"}, {"DataLoss", "DATA_LOSS"}, {"Unauthenticated", "UNAUTHENTICATED"},
}

// appendGRPCStatus prints the response's grpc-status (a trailer, or a header for a
// trailers-only response); missing for a response that is not gRPC.
func (s *segment) appendGRPCStatus(b []byte, h http.Header) []byte {
	v := trailer(h, "Grpc-Status")
	if v == "" {
		v = first(h["Grpc-Status"])
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n >= len(grpcNames) {
		return appendMissing(b, s.mode)
	}
	switch s.grpcStyle {
	case 'n':
		return s.appendInt(b, int64(n), true)
	case 's':
		return s.appendString(b, grpcNames[n][1])
	}
	return s.appendString(b, grpcNames[n][0])
}

// appendURI writes a SAN URI as it appears in the certificate. url.URL's own AppendBinary
// allocates for the path; SAN URIs (SPIFFE IDs) need none of its re-escaping, and the log
// escapes what must be escaped.
func appendURI(b []byte, u *url.URL) []byte {
	b = append(b, u.Scheme...)
	b = append(b, ':')
	if u.Opaque != "" {
		return append(b, u.Opaque...)
	}
	b = append(b, "//"...)
	b = append(b, u.Host...)
	if u.RawPath != "" {
		b = append(b, u.RawPath...)
	} else {
		b = append(b, u.Path...)
	}
	if u.RawQuery != "" {
		b = append(b, '?')
		b = append(b, u.RawQuery...)
	}
	return b
}
