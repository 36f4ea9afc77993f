package accesslog

import (
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"
)

// FormatJSON appends e to buf as one JSON object per line with the field names of Istio's JSON
// access log (accessLogEncoding: JSON), newline included, and returns the extended buffer. It
// does not allocate when buf has room.
//
// Types follow what Envoy emits for Istio's format: response_code, bytes_* and duration are
// numbers; upstream_service_time is a string because it is a header value; a missing value is
// null; response_flags is "-" when none is set. Keys come in the order of the text format, so
// the two encodings read alike; JSON readers do not depend on the order.
func FormatJSON(buf []byte, e *Entry) []byte {
	b := append(buf, `{"start_time":`...)
	if e.StartTime.IsZero() {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = appendStartTime(b, e.StartTime)
		b = append(b, '"')
	}
	b = appendJSONField(b, "method", e.Method)
	b = appendJSONField(b, "path", e.Path)
	b = appendJSONField(b, "protocol", e.Protocol)
	b = append(b, `,"response_code":`...)
	b = strconv.AppendInt(b, int64(e.ResponseCode), 10)
	b = append(b, `,"response_flags":"`...)
	b = e.ResponseFlags.AppendTo(b)
	b = append(b, '"')
	b = appendJSONField(b, "response_code_details", e.ResponseCodeDetails)
	b = appendJSONField(b, "connection_termination_details", e.ConnectionTerminationDetails)
	b = appendJSONField(b, "upstream_transport_failure_reason", e.UpstreamTransportFailureReason)
	b = append(b, `,"bytes_received":`...)
	b = strconv.AppendInt(b, e.BytesReceived, 10)
	b = append(b, `,"bytes_sent":`...)
	b = strconv.AppendInt(b, e.BytesSent, 10)
	b = append(b, `,"duration":`...)
	b = strconv.AppendInt(b, e.Duration.Milliseconds(), 10)
	b = append(b, `,"upstream_service_time":`...)
	b = appendJSONMillis(b, e.UpstreamServiceTime, e.HasUpstreamServiceTime)
	b = appendJSONField(b, "x_forwarded_for", e.XForwardedFor)
	b = appendJSONField(b, "user_agent", e.UserAgent)
	b = appendJSONField(b, "request_id", e.RequestID)
	b = appendJSONField(b, "authority", e.Authority)
	b = appendJSONAddr(b, "upstream_host", e.UpstreamHost)
	b = appendJSONField(b, "upstream_cluster", e.UpstreamCluster)
	b = appendJSONAddr(b, "upstream_local_address", e.UpstreamLocalAddress)
	b = appendJSONAddr(b, "downstream_local_address", e.DownstreamLocalAddress)
	b = appendJSONAddr(b, "downstream_remote_address", e.DownstreamRemoteAddress)
	b = appendJSONField(b, "requested_server_name", e.RequestedServerName)
	b = appendJSONField(b, "route_name", e.RouteName)
	return append(b, "}\n"...)
}

func appendJSONKey(b []byte, key string) []byte {
	b = append(b, ",\""...)
	b = append(b, key...)
	return append(b, "\":"...)
}

func appendJSONField(b []byte, key, value string) []byte {
	b = appendJSONKey(b, key)
	if value == "" {
		return append(b, "null"...)
	}
	return appendJSONString(b, value)
}

func appendJSONAddr(b []byte, key string, a netip.AddrPort) []byte {
	b = appendJSONKey(b, key)
	if !a.IsValid() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = appendAddr(b, a)
	return append(b, '"')
}

func appendJSONMillis(b []byte, d time.Duration, ok bool) []byte {
	if !ok {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = strconv.AppendInt(b, d.Milliseconds(), 10)
	return append(b, '"')
}

// jsonSpecial marks the bytes appendJSONString must look at: those it escapes, and the first
// bytes of multi-byte UTF-8, which it must validate. Everything else is copied in runs.
var jsonSpecial = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c < 0x20 || c == '"' || c == '\\' || c >= 0x7f
	}
	return t
}()

// appendJSONString quotes s much as encoding/json would: control characters and DEL escaped
// (DEL so that no raw control byte reaches a terminal), invalid UTF-8 replaced by U+FFFD so the
// line stays valid JSON, and U+2028/U+2029 escaped for readers that treat them as line ends.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendJSONChars(b, s)
	return append(b, '"')
}

// appendJSONChars writes s escaped as appendJSONString does, without the quotes, for values
// that are part of a longer JSON string.
func appendJSONChars(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if !jsonSpecial[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}
