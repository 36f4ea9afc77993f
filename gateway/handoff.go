package gateway

import (
	"net"
	"sync"
)

// handoff is the net.Listener the listener's http.Server serves: the accept loop hands it
// plaintext connections as they are accepted and TLS connections once their handshake is done.
type handoff struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newHandoff(addr net.Addr) *handoff {
	return &handoff{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// deliver gives a connection to the http.Server, or closes it once the server has stopped.
func (h *handoff) deliver(c net.Conn) {
	select {
	case h.conns <- c:
	case <-h.done:
		_ = c.Close()
	}
}

func (h *handoff) Accept() (net.Conn, error) {
	// A closed handoff wins over a waiting connection: http.Server must not start serving a
	// connection after Shutdown began.
	select {
	case <-h.done:
		return nil, net.ErrClosed
	default:
	}
	select {
	case c := <-h.conns:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

func (h *handoff) Close() error {
	h.once.Do(func() { close(h.done) })
	return nil
}

func (h *handoff) Addr() net.Addr { return h.addr }
