package demo

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

const (
	maxWSMessageBytes = 4 << 20
	wsCloseWait       = time.Second
)

// wsHub runs the /ws echo and keeps the open connections, because http.Server.Shutdown neither
// waits for nor closes hijacked connections: Serve asks the hub to close them instead.
type wsHub struct {
	b        *backend
	upgrader websocket.Upgrader
	header   http.Header

	mu      sync.Mutex
	conns   map[*websocket.Conn]struct{}
	closing bool
	active  sync.WaitGroup
}

func newWSHub(b *backend) *wsHub {
	h := &wsHub{
		b:      b,
		header: http.Header{"X-Backend-Name": b.nameHeader},
		conns:  make(map[*websocket.Conn]struct{}),
	}
	h.upgrader = websocket.Upgrader{
		// The backend sits behind the gateway under whatever host a test routes to it, so an
		// Origin check could only reject legitimate test traffic; it guards nothing here.
		CheckOrigin: func(*http.Request) bool { return true },
		Error: func(w http.ResponseWriter, r *http.Request, code int, reason error) {
			b.writeError(w, r, code, reason.Error())
		},
	}
	return h
}

// serve upgrades, greets with a JSON hello naming the backend, then echoes every message with
// its type (text or binary) until the peer closes or the hub shuts down.
func (h *wsHub) serve(w http.ResponseWriter, r *http.Request) {
	c, err := h.upgrader.Upgrade(w, r, h.header)
	if err != nil {
		return // the upgrader has already answered
	}
	if !h.add(c) {
		h.sayGoingAway(c)
		_ = c.Close()
		return
	}
	defer h.remove(c)
	c.SetReadLimit(maxWSMessageBytes)

	if err := c.WriteMessage(websocket.TextMessage, h.hello(r)); err != nil {
		return
	}
	for {
		typ, rd, err := c.NextReader()
		if err != nil {
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
				h.b.log.Debug("websocket closed", "remote", r.RemoteAddr, "error", err)
			}
			return
		}
		wr, err := c.NextWriter(typ)
		if err != nil {
			return
		}
		if _, err := io.Copy(wr, rd); err != nil {
			return
		}
		if err := wr.Close(); err != nil {
			return
		}
	}
}

func (h *wsHub) hello(r *http.Request) []byte {
	o := jsonObject{buf: append([]byte(nil), h.b.prefix...), n: 1}
	o.str("type", "hello")
	o.str("path", r.URL.EscapedPath())
	o.str("host", r.Host)
	o.str("protocol", r.Proto)
	return append(o.buf, '}')
}

func (h *wsHub) add(c *websocket.Conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	h.conns[c] = struct{}{}
	h.active.Add(1) // under mu, so it cannot race the Wait in shutdown
	return true
}

func (h *wsHub) remove(c *websocket.Conn) {
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
	_ = c.Close()
	h.active.Done()
}

func (h *wsHub) sayGoingAway(c *websocket.Conn) {
	msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down")
	// WriteControl may run beside the echo loop's writer; gorilla allows exactly that.
	_ = c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(wsCloseWait))
}

// shutdown refuses new connections, sends every open one a going-away close frame and waits
// for the peers to answer it. Connections still open when ctx ends are closed outright.
func (h *wsHub) shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closing = true
	open := make([]*websocket.Conn, 0, len(h.conns))
	for c := range h.conns {
		open = append(open, c)
	}
	h.mu.Unlock()

	// The read deadline ends an echo loop whose peer never answers the close frame.
	deadline := time.Now().Add(wsCloseWait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	for _, c := range open {
		h.sayGoingAway(c)
		_ = c.UnderlyingConn().SetReadDeadline(deadline)
	}

	done := make(chan struct{})
	go func() {
		h.active.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	h.mu.Lock()
	for c := range h.conns {
		_ = c.Close()
	}
	h.mu.Unlock()
	<-done
	return errors.New("websockets still open after the shutdown grace period; closed them")
}
