package accesslog

import (
	"crypto/x509"
	"net/http"
	"net/netip"
	"time"
)

// Entry is one request (or TCP connection) as Istio's default access log reports it. Each
// field names the Envoy command operator it stands for. A zero field prints as Envoy prints a
// missing value: "-" in text, null in JSON; numbers print as they are.
type Entry struct {
	StartTime time.Time // %START_TIME%, printed in UTC with milliseconds
	Method    string    // %REQ(:METHOD)%
	// Path is %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%: the path before any VirtualService rewrite,
	// after normalization.
	Path     string
	Protocol string // %PROTOCOL%, spelt as Envoy does (see ProtocolName); empty for TCP

	ResponseCode                   int           // %RESPONSE_CODE%; 0 when no response was sent
	ResponseFlags                  ResponseFlags // %RESPONSE_FLAGS%
	ResponseCodeDetails            string        // %RESPONSE_CODE_DETAILS%, e.g. "via_upstream"
	ConnectionTerminationDetails   string        // %CONNECTION_TERMINATION_DETAILS%
	UpstreamTransportFailureReason string        // %UPSTREAM_TRANSPORT_FAILURE_REASON%

	BytesReceived int64         // %BYTES_RECEIVED%: request body bytes
	BytesSent     int64         // %BYTES_SENT%: response body bytes
	Duration      time.Duration // %DURATION%, printed in whole milliseconds

	// UpstreamServiceTime is %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%. It exists only when an
	// upstream answered, which a zero duration cannot say, hence HasUpstreamServiceTime.
	UpstreamServiceTime    time.Duration
	HasUpstreamServiceTime bool

	XForwardedFor string // %REQ(X-FORWARDED-FOR)%, as the upstream received it
	UserAgent     string // %REQ(USER-AGENT)%
	RequestID     string // %REQ(X-REQUEST-ID)%
	Authority     string // %REQ(:AUTHORITY)%

	UpstreamHost           netip.AddrPort // %UPSTREAM_HOST%
	UpstreamCluster        string         // %UPSTREAM_CLUSTER%, see ClusterName
	UpstreamLocalAddress   netip.AddrPort // %UPSTREAM_LOCAL_ADDRESS%
	DownstreamLocalAddress netip.AddrPort // %DOWNSTREAM_LOCAL_ADDRESS%
	// DownstreamRemoteAddress is %DOWNSTREAM_REMOTE_ADDRESS%: the peer as trusted per
	// numTrustedProxies, not necessarily the socket's peer.
	DownstreamRemoteAddress netip.AddrPort
	RequestedServerName     string // %REQUESTED_SERVER_NAME%: the TLS SNI
	RouteName               string // %ROUTE_NAME%: the VirtualService http route's name

	// The fields below feed only custom formats (MeshConfig accessLogFormat); the default
	// formats do not print them.

	// RequestHeaders and ResponseHeaders are %REQ(H)% and %RESP(H)% for headers without a
	// field above; response trailers are in ResponseHeaders the way net/http keeps them
	// (declared in "Trailer", or under http.TrailerPrefix). They are read, never changed, and
	// only while Log runs. Nil for TCP.
	RequestHeaders  http.Header
	ResponseHeaders http.Header
	Scheme          string // %REQ(:SCHEME)%
	// ResponseDuration is %RESPONSE_DURATION%: start to the upstream's response headers. It is
	// known exactly when HasUpstreamServiceTime is.
	ResponseDuration time.Duration
	// DownstreamDirectRemoteAddress is %DOWNSTREAM_DIRECT_REMOTE_ADDRESS%: the socket's peer.
	DownstreamDirectRemoteAddress netip.AddrPort
	PeerCertificate               *x509.Certificate // the client's leaf, for %DOWNSTREAM_PEER_URI_SAN%
	TLSVersion                    uint16            // %DOWNSTREAM_TLS_VERSION%; 0 without TLS
	// UpstreamRequestAttemptCount is %UPSTREAM_REQUEST_ATTEMPT_COUNT%; 0 when not known.
	UpstreamRequestAttemptCount int
}

// ProtocolName returns %PROTOCOL% for an HTTP version the way Envoy spells it ("HTTP/2", not
// Go's "HTTP/2.0"), without allocating.
func ProtocolName(major, minor int) string {
	switch {
	case major == 1 && minor == 0:
		return "HTTP/1.0"
	case major == 1:
		return "HTTP/1.1"
	case major == 2:
		return "HTTP/2"
	case major == 3:
		return "HTTP/3"
	}
	return ""
}
