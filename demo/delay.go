package demo

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// maxDelay caps /delay as httpbin does, so a test cannot park a handler for long.
const maxDelay = 10 * time.Second

// delay waits the given number of seconds (fractions allowed, capped at maxDelay) and then
// echoes like /anything. When the client goes away first it returns without writing, so a
// proxy's timeout or a cancelled request frees the handler at once.
func (b *backend) delay(w http.ResponseWriter, r *http.Request, arg string) {
	secs, err := strconv.ParseFloat(arg, 64)
	if err != nil || math.IsNaN(secs) || secs < 0 {
		b.writeError(w, r, http.StatusBadRequest, "delay must be a non-negative number of seconds")
		return
	}
	d := maxDelay
	if secs < maxDelay.Seconds() {
		d = time.Duration(secs * float64(time.Second))
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		b.anything(w, r)
	case <-r.Context().Done():
		b.log.Debug("delay abandoned by client", "path", r.URL.Path, "after", d)
	}
}
