package gateway

import (
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/gateway/accesslog"
)

// Bodies of Envoy's local replies, which clients and tests written against Istio look for.
const (
	bodyNoHealthyUpstream = "no healthy upstream"
	bodyConnectFailure    = "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
	bodyConnectionReset   = "upstream connect error or disconnect/reset before headers. reset reason: connection termination"
	bodyUpstreamTimeout   = "upstream request timeout"
	bodyPayloadTooLarge   = "Payload Too Large"
	bodyStreamTimeout     = "stream timeout"
)

// localReply answers as Envoy's local replies do: text/plain when there is a body, and always
// a Content-Length.
//
// Each of Envoy's bodies stands for one response flag; a reply through the request's
// statusWriter records it, so the access log and metrics say why the gateway answered.
func localReply(w http.ResponseWriter, code int, body string) {
	if sw, ok := w.(*statusWriter); ok {
		sw.local = true
		sw.state.flags.Or(uint32(localReplyFlags(body)))
	}
	h := w.Header()
	if body != "" {
		h.Set("Content-Type", "text/plain")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	if body != "" {
		_, _ = io.WriteString(w, body)
	}
}

// localReplyFlags is the response flag Envoy sets with each local reply body.
func localReplyFlags(body string) accesslog.ResponseFlags {
	switch body {
	case bodyNoHealthyUpstream:
		return accesslog.NoHealthyUpstream
	case bodyConnectFailure:
		return accesslog.UpstreamConnectionFailure
	case bodyConnectionReset:
		return accesslog.UpstreamConnectionTermination
	case bodyUpstreamTimeout:
		return accesslog.UpstreamRequestTimeout
	case bodyOverflow:
		return accesslog.UpstreamOverflow
	case bodyStreamTimeout:
		return accesslog.StreamIdleTimeout
	}
	return 0
}

// statusWriter records the status code and body bytes sent, for metrics and the access log,
// and adds the route's CORS headers to the final response. It unwraps for
// http.ResponseController, which ReverseProxy uses to flush and to hijack upgrades.
type statusWriter struct {
	http.ResponseWriter
	state *routeState
	code  int
	bytes int64
	// local is set when the gateway answered itself rather than relaying an upstream.
	local bool
	// cors, when set, adds its headers for origin (the request's Origin) to the response.
	cors   *CORSPolicy
	origin string
	// authzHeaders are a CUSTOM provider's headers for the client, set on whatever response
	// follows its allow, as Envoy's ext_authz filter adds them while encoding.
	authzHeaders []authz.Header
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.code = code
		w.state.responded.Store(true)
		if s := w.state; !w.local && !s.upstreamStart.IsZero() {
			s.serviceTime = time.Since(s.upstreamStart)
		}
		if w.cors != nil {
			w.cors.responseHeaders(w.Header(), w.origin)
		}
		if len(w.authzHeaders) > 0 {
			setAuthzHeaders(w.Header(), w.authzHeaders)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	w.state.writes.Add(1)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
