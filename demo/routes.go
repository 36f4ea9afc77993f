package demo

import (
	"net/http"
	"strings"
)

// route dispatches by hand rather than through http.ServeMux because ServeMux answers unclean
// paths ("//a", "/a/../b") with a redirect, and path-normalization tests need the backend to
// echo exactly the path the gateway forwarded.
func (b *backend) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/headers":
		b.headers(w, r)
	case p == "/anything" || strings.HasPrefix(p, "/anything/"):
		b.anything(w, r)
	case strings.HasPrefix(p, "/status/"):
		b.status(w, r, p[len("/status/"):])
	case strings.HasPrefix(p, "/delay/"):
		b.delay(w, r, p[len("/delay/"):])
	case p == "/ip":
		b.ip(w, r)
	case p == "/ws":
		b.ws.serve(w, r)
	case p == "/healthz":
		writeJSON(w, http.StatusOK, b.healthz)
	case p == "/":
		writeJSON(w, http.StatusOK, b.index)
	default:
		b.writeError(w, r, http.StatusNotFound, "not found")
	}
}
