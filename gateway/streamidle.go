package gateway

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
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

// Hijack hands ReverseProxy the client connection of an upgraded request (a WebSocket after the
// upstream's 101). In Envoy an upgraded stream is still an HTTP stream under
// stream_idle_timeout, idle when no byte moves either way; the watch above sees the tunnel's
// bytes through the counters of the returned connection, and its context, when it ends,
// closes the tunnel (ReverseProxy closes the upstream side when the request context ends).
// The connection's bytes are no longer HTTP/1, so its framing guard stops.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return c, brw, err
	}
	if f, ok := c.(interface{ StopSniffing() }); ok {
		f.StopSniffing()
	}
	return &tunnelConn{Conn: c, received: &w.state.received, writes: &w.state.writes}, brw, nil
}

// tunnelConn counts an upgraded connection's bytes from the client and writes to it.
type tunnelConn struct {
	net.Conn
	received, writes *atomic.Int64
}

func (c *tunnelConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.received.Add(int64(n))
	return n, err
}

func (c *tunnelConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.writes.Add(1)
	return n, err
}

// CloseWrite passes on the upstream's end of stream, as ReverseProxy does through it.
func (c *tunnelConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
