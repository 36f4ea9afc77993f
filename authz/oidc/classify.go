package oidc

import (
	"net/http"
	"strings"
)

// isGRPC reports a gRPC request (application/grpc, +proto, +json, -web…).
func isGRPC(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc")
}

// isNavigation reports a top-level browser navigation, the only request sent to the provider:
// a redirect answered to XHR/fetch or a form post would lose the request and, for fetch,
// fail on CORS at the provider.
func isNavigation(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if strings.EqualFold(r.Header.Get("X-Requested-With"), "XMLHttpRequest") {
		return false
	}
	if mode := r.Header.Get("Sec-Fetch-Mode"); mode != "" && mode != "navigate" {
		return false
	}
	for _, v := range r.Header.Values("Accept") {
		if strings.Contains(v, "text/html") {
			return true
		}
	}
	return false
}

// writeJSON401 answers an API request without a session.
func writeJSON401(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("WWW-Authenticate", "Bearer")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(`{"error":"unauthenticated","message":"sign in or present a bearer token"}` + "\n"))
}

// writeGRPCUnauthenticated answers a gRPC request as Envoy does a local reply: HTTP 200,
// trailers-only, grpc-status 16 (UNAUTHENTICATED).
func writeGRPCUnauthenticated(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/grpc")
	h.Set("Grpc-Status", "16")
	h.Set("Grpc-Message", "unauthenticated")
	w.WriteHeader(http.StatusOK)
}
