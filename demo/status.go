package demo

import (
	"net/http"
	"strconv"
)

// redirectTarget is where /status/3xx points. httpbin points at its /redirect chain; this backend
// has none, so it points at an endpoint that exists here and echoes the followed request.
const redirectTarget = "/anything"

// status answers with the code in the path. Codes below 200 are refused: net/http would send
// them as interim responses followed by a 200, which is not what a caller asking for them means.
func (b *backend) status(w http.ResponseWriter, r *http.Request, arg string) {
	code, err := strconv.Atoi(arg)
	if err != nil || code < 200 || code > 599 {
		b.writeError(w, r, http.StatusBadRequest, "status code must be an integer from 200 to 599")
		return
	}
	if code >= 300 && code < 400 && code != http.StatusNotModified {
		w.Header().Set("Location", redirectTarget)
	}
	if code == http.StatusNoContent || code == http.StatusNotModified {
		w.WriteHeader(code) // these statuses forbid a body
		return
	}
	s := getScratch()
	defer putScratch(s)
	o := b.begin(s)
	o.key("status")
	o.buf = strconv.AppendInt(o.buf, int64(code), 10)
	b.finish(w, r, code, s, &o)
}
