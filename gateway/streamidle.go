package gateway

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/gateway/accesslog"
)

// errStreamIdleTimeout is the cause of a request context the stream idle watch ended.
var errStreamIdleTimeout = errors.New("stream idle timeout")

// idleChecks is how many times per timeout the watch looks at the counters: a quiet stream is
// reset between timeout and 1¼ × timeout after its last byte, without a timer reset per byte.
const idleChecks = 4

// watchStreamIdle is Envoy's stream_idle_timeout for one proxied request: when neither a
// request body byte is read nor a response body written for timeout, the request's context
// ends (the upstream request with it) with errStreamIdleTimeout, which proxyError answers
// with 408 "stream timeout" (SI) if no response has started; a started response is cut by a
// write deadline in the past, which also frees a write blocked on a client that stopped reading,
// and the stream is reset. The returned stop must run before the handler returns: the watch
// touches the ResponseWriter.
func watchStreamIdle(w http.ResponseWriter, parent context.Context, rs *routeState, timeout time.Duration) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	tick := max(timeout/idleChecks, time.Millisecond)
	activity := func() int64 { return rs.received.Load() + rs.writes.Load() }

	var mu sync.Mutex
	done := false
	last, quiet := activity(), 0
	mu.Lock()
	var t *time.Timer
	t = time.AfterFunc(tick, func() {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return
		}
		if now := activity(); now != last {
			last, quiet = now, 0
			t.Reset(tick)
			return
		}
		if quiet++; quiet < idleChecks {
			t.Reset(tick)
			return
		}
		rs.flags.Or(uint32(accesslog.StreamIdleTimeout))
		cancel(errStreamIdleTimeout)
		if rs.responded.Load() {
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now())
		}
	})
	mu.Unlock()
	return ctx, func() {
		mu.Lock()
		done = true
		t.Stop()
		mu.Unlock()
		cancel(nil)
	}
}
