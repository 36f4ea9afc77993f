package accesslog

import (
	"fmt"
	"net/http"
	"os"
	"strings"
)

// op is what a segment prints: literal text or one command operator's value.
type op uint8

const (
	opLiteral op = iota
	opNone       // an operator the gateway has no value for: always missing
	opStartTime
	// String values.
	opMethod
	opPath
	opAuthority
	opScheme
	opUserAgent
	opRequestID
	opForwardedFor
	opReqHeader
	opRespHeader
	opTrailer
	opProtocol
	opResponseCodeDetails
	opConnectionTerminationDetails
	opUpstreamTransportFailureReason
	opUpstreamCluster
	opRequestedServerName
	opRouteName
	opTLSVersion
	opPeerURISAN
	opGRPCStatus
	opResponseFlags
	// Numbers.
	opResponseCode
	opBytesReceived
	opBytesSent
	opDuration
	opResponseDuration
	opResponseTxDuration
	opUpstreamServiceTime // %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%: a header, so a string in JSON
	opAttemptCount
	// Addresses.
	opUpstreamHost
	opUpstreamLocalAddress
	opDownstreamLocalAddress
	opDownstreamRemoteAddress
	opDownstreamDirectRemoteAddress
)

// addrPart selects what an address operator prints.
type addrPart uint8

const (
	addrFull addrPart = iota
	addrIP
	addrPort
)

// simpleOps are the operators that take no argument, by Envoy's name.
var simpleOps = map[string]op{
	"METHOD":                            opMethod,
	"PROTOCOL":                          opProtocol,
	"RESPONSE_CODE":                     opResponseCode,
	"RESPONSE_CODE_DETAILS":             opResponseCodeDetails,
	"RESPONSE_FLAGS":                    opResponseFlags,
	"CONNECTION_TERMINATION_DETAILS":    opConnectionTerminationDetails,
	"UPSTREAM_TRANSPORT_FAILURE_REASON": opUpstreamTransportFailureReason,
	"BYTES_RECEIVED":                    opBytesReceived,
	"BYTES_SENT":                        opBytesSent,
	"DURATION":                          opDuration,
	"RESPONSE_DURATION":                 opResponseDuration,
	"RESPONSE_TX_DURATION":              opResponseTxDuration,
	"UPSTREAM_CLUSTER":                  opUpstreamCluster,
	"UPSTREAM_CLUSTER_RAW":              opUpstreamCluster,
	"REQUESTED_SERVER_NAME":             opRequestedServerName,
	"ROUTE_NAME":                        opRouteName,
	"UPSTREAM_REQUEST_ATTEMPT_COUNT":    opAttemptCount,
	"DOWNSTREAM_TLS_VERSION":            opTLSVersion,
	"DOWNSTREAM_PEER_URI_SAN":           opPeerURISAN,
}

// addrOps are the address operators: which address and which part of it.
var addrOps = map[string]struct {
	op   op
	part addrPart
}{
	"UPSTREAM_HOST":                                 {opUpstreamHost, addrFull},
	"UPSTREAM_REMOTE_ADDRESS":                       {opUpstreamHost, addrFull},
	"UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT":          {opUpstreamHost, addrIP},
	"UPSTREAM_REMOTE_PORT":                          {opUpstreamHost, addrPort},
	"UPSTREAM_LOCAL_ADDRESS":                        {opUpstreamLocalAddress, addrFull},
	"UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT":           {opUpstreamLocalAddress, addrIP},
	"UPSTREAM_LOCAL_PORT":                           {opUpstreamLocalAddress, addrPort},
	"DOWNSTREAM_LOCAL_ADDRESS":                      {opDownstreamLocalAddress, addrFull},
	"DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT":         {opDownstreamLocalAddress, addrIP},
	"DOWNSTREAM_LOCAL_PORT":                         {opDownstreamLocalAddress, addrPort},
	"DOWNSTREAM_REMOTE_ADDRESS":                     {opDownstreamRemoteAddress, addrFull},
	"DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT":        {opDownstreamRemoteAddress, addrIP},
	"DOWNSTREAM_REMOTE_PORT":                        {opDownstreamRemoteAddress, addrPort},
	"DOWNSTREAM_DIRECT_REMOTE_ADDRESS":              {opDownstreamDirectRemoteAddress, addrFull},
	"DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT": {opDownstreamDirectRemoteAddress, addrIP},
	"DOWNSTREAM_DIRECT_REMOTE_PORT":                 {opDownstreamDirectRemoteAddress, addrPort},
}

// silentlyEmpty are Envoy operators found in Istio's documented formats that the gateway
// accepts without a warning although it has no value for them, as Envoy prints "-" for them
// in as many cases: REQUEST_DURATION (the gateway does not time the end of the request body),
// DOWNSTREAM_LOCAL_URI_SAN (the certificate the gateway served is not kept per request).
var silentlyEmpty = map[string]bool{
	"REQUEST_DURATION":         true,
	"DOWNSTREAM_LOCAL_URI_SAN": true,
}

// unsupported are Envoy operators the gateway has no data for (filter state, metadata, peer
// certificate details beyond the URI SAN, upstream TLS, connection ids). They print "-" and
// are named in a warning, so a user is not left wondering why a column is empty.
var unsupported = map[string]bool{
	"DYNAMIC_METADATA": true, "CLUSTER_METADATA": true, "UPSTREAM_METADATA": true, "METADATA": true,
	"FILTER_STATE": true, "UPSTREAM_FILTER_STATE": true, "CEL": true,
	"REQUEST_HEADERS_BYTES": true, "RESPONSE_HEADERS_BYTES": true, "RESPONSE_TRAILERS_BYTES": true,
	"UPSTREAM_WIRE_BYTES_SENT": true, "UPSTREAM_WIRE_BYTES_RECEIVED": true,
	"DOWNSTREAM_WIRE_BYTES_SENT": true, "DOWNSTREAM_WIRE_BYTES_RECEIVED": true,
	"STREAM_ID": true, "CONNECTION_ID": true, "UPSTREAM_CONNECTION_ID": true,
	"DOWNSTREAM_PEER_SUBJECT": true, "DOWNSTREAM_LOCAL_SUBJECT": true, "DOWNSTREAM_PEER_ISSUER": true,
	"DOWNSTREAM_PEER_SERIAL": true, "DOWNSTREAM_PEER_FINGERPRINT_256": true,
	"DOWNSTREAM_PEER_FINGERPRINT_1": true, "DOWNSTREAM_PEER_CERT": true,
	"DOWNSTREAM_PEER_CERT_V_START": true, "DOWNSTREAM_PEER_CERT_V_END": true,
	"DOWNSTREAM_TLS_CIPHER": true, "DOWNSTREAM_TLS_SESSION_ID": true, "DOWNSTREAM_PEER_DNS_SAN": true,
	"DOWNSTREAM_LOCAL_DNS_SAN": true, "UPSTREAM_PEER_URI_SAN": true, "UPSTREAM_PEER_SUBJECT": true,
	"UPSTREAM_TLS_VERSION": true, "UPSTREAM_TLS_CIPHER": true, "UPSTREAM_TLS_SESSION_ID": true,
	"VIRTUAL_CLUSTER_NAME": true, "LOCAL_REPLY_BODY": true, "ACCESS_LOG_TYPE": true,
	"TRACE_ID": true, "UNIQUE_ID": true, "UPSTREAM_PROTOCOL": true, "CUSTOM_FLAGS": true,
	"RESPONSE_FLAGS_LONG": true, "START_TIME_LOCAL": true, "EMIT_TIME": true,
}

// segment is one compiled piece of a format: literal text already encoded for its place in the
// line, or an operator with everything it needs resolved at config time.
type segment struct {
	op   op
	lit  string
	mode mode
	// key is the canonical header name for opReqHeader, opRespHeader, opTrailer.
	key string
	// alt is the header tried when the first is absent (%REQ(A?B)%).
	alt       op
	altKey    string
	part      addrPart
	noQuery   bool // REQ_WITHOUT_QUERY / PATH(NQ): the path without its query
	maxLen    int
	time      timeLayout // nil: Envoy's default START_TIME layout
	grpcStyle byte       // GRPC_STATUS: 'c' camel (default), 's' snake, 'n' number
}

// compileItem turns a parsed operator into a segment for mode. Literal values known at config
// time (HOSTNAME, ENVIRONMENT) come back as literal segments.
func compileItem(it item, m mode) (segment, []string) {
	s := segment{mode: m, maxLen: it.maxLen}
	var warnings []string
	warn := func(format string, args ...any) {
		warnings = append(warnings, fmt.Sprintf("position %d: ", it.pos)+fmt.Sprintf(format, args...))
	}
	needArg := func() bool {
		if !it.hasArg || it.arg == "" {
			warn("%%%s%% needs an argument in parentheses; it prints -", it.name)
			s.op = opNone
			return false
		}
		return true
	}
	switch it.name {
	case "START_TIME":
		s.op = opStartTime
		if it.hasArg && it.arg != "" {
			l, w := compileTimeLayout(it.arg)
			if m != modeText {
				for i := range l {
					if l[i].verb == 0 {
						l[i].lit = string(appendJSONChars(nil, l[i].lit))
					}
				}
			}
			s.time = l
			for _, x := range w {
				warn("%s", x)
			}
		}
	case "REQ", "REQUEST_HEADER", "REQ_WITHOUT_QUERY":
		if needArg() {
			s.noQuery = it.name == "REQ_WITHOUT_QUERY"
			first, alt, _ := strings.Cut(it.arg, "?")
			s.op, s.key = requestHeader(first)
			if alt != "" {
				s.alt, s.altKey = requestHeader(alt)
			}
		}
	case "RESP", "RESPONSE_HEADER", "TRAILER", "RESPONSE_TRAILER":
		if needArg() {
			first, alt, _ := strings.Cut(it.arg, "?")
			if it.name == "TRAILER" || it.name == "RESPONSE_TRAILER" {
				s.op, s.key = opTrailer, http.CanonicalHeaderKey(first)
				if alt != "" {
					s.alt, s.altKey = opTrailer, http.CanonicalHeaderKey(alt)
				}
				break
			}
			s.op, s.key = responseHeader(first)
			if alt != "" {
				s.alt, s.altKey = responseHeader(alt)
			}
		}
	case "PATH":
		// %PATH(WQ|NQ[:ORIG|:PATH])%: the gateway logs the path before any rewrite either way.
		s.op = opPath
		pathMode, _, _ := strings.Cut(it.arg, ":")
		s.noQuery = pathMode == "NQ"
	case "GRPC_STATUS":
		s.op, s.grpcStyle = opGRPCStatus, 'c'
		switch it.arg {
		case "", "CAMEL_STRING":
		case "SNAKE_STRING":
			s.grpcStyle = 's'
		case "NUMBER":
			s.grpcStyle = 'n'
		default:
			warn("GRPC_STATUS(%s): want CAMEL_STRING, SNAKE_STRING or NUMBER; using CAMEL_STRING", it.arg)
		}
	case "HOSTNAME":
		h, err := os.Hostname()
		return literalValue(h, err == nil, m, it.maxLen), nil
	case "ENVIRONMENT":
		if needArg() {
			name, _, _ := strings.Cut(it.arg, ":")
			v, ok := os.LookupEnv(name)
			return literalValue(v, ok, m, it.maxLen), nil
		}
	default:
		if o, ok := simpleOps[it.name]; ok {
			s.op = o
			break
		}
		if a, ok := addrOps[it.name]; ok {
			s.op, s.part = a.op, a.part
			break
		}
		s.op = opNone
		switch {
		case silentlyEmpty[it.name]:
		case unsupported[it.name]:
			warn("%%%s%% is not available in the gateway; it prints -", it.name)
		default:
			warn("unknown command operator %%%s%%; it prints -", it.name)
		}
	}
	return s, warnings
}

// requestHeader resolves a %REQ()% header name to the Entry field that holds it, or to a
// lookup in RequestHeaders by its canonical name.
func requestHeader(name string) (op, string) {
	switch strings.ToLower(name) {
	case ":method":
		return opMethod, ""
	case ":path", "x-envoy-original-path":
		// Entry.Path is the path before any VirtualService rewrite, which is what
		// X-ENVOY-ORIGINAL-PATH?:PATH means; a client cannot forge it with the header.
		return opPath, ""
	case ":authority", "host":
		return opAuthority, ""
	case ":scheme":
		return opScheme, ""
	case "user-agent":
		return opUserAgent, ""
	case "x-request-id":
		return opRequestID, ""
	case "x-forwarded-for":
		return opForwardedFor, ""
	}
	return opReqHeader, http.CanonicalHeaderKey(name)
}

func responseHeader(name string) (op, string) {
	if strings.EqualFold(name, "x-envoy-upstream-service-time") {
		return opUpstreamServiceTime, ""
	}
	return opRespHeader, http.CanonicalHeaderKey(name)
}

// literalValue is a value known at config time, encoded once for mode.
func literalValue(v string, ok bool, m mode, maxLen int) segment {
	if ok && maxLen > 0 && len(v) > maxLen {
		v = v[:maxLen]
	}
	if !ok || v == "" {
		return segment{op: opLiteral, lit: string(appendMissing(nil, m))}
	}
	return segment{op: opLiteral, lit: string(appendString(nil, m, v))}
}
