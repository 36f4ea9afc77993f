package gateway

import (
	"io"
	"net/http"
	"strconv"
)

// Bodies of Envoy's local replies, which clients and tests written against Istio look for.
const (
	bodyNoHealthyUpstream = "no healthy upstream"
	bodyConnectFailure    = "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
	bodyConnectionReset   = "upstream connect error or disconnect/reset before headers. reset reason: connection termination"
	bodyUpstreamTimeout   = "upstream request timeout"
	bodyPayloadTooLarge   = "Payload Too Large"
)

// localReply answers as Envoy's local replies do: text/plain when there is a body, and always
// a Content-Length.
func localReply(w http.ResponseWriter, code int, body string) {
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

// statusWriter records the status code sent, for metrics, and adds the route's CORS headers
// to the final response. It unwraps for http.ResponseController, which ReverseProxy uses to
// flush and to hijack upgrades.
type statusWriter struct {
	http.ResponseWriter
	code int
	// cors, when set, adds its headers for origin (the request's Origin) to the response.
	cors   *CORSPolicy
	origin string
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.code = code
		if w.cors != nil {
			w.cors.responseHeaders(w.Header(), w.origin)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
