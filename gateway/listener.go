package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Limits of the downstream HTTP server: Envoy's default 60 KiB of request headers and 1h idle
// timeout; a header read timeout because an edge must not let slow clients hold connections.
const (
	maxHeaderBytes    = 60 << 10
	readHeaderTimeout = 30 * time.Second
	idleTimeout       = time.Hour
)

// listener is one bound port. Its accept loop looks at the current Table for every connection:
// a plaintext HTTP port hands it to the listener's http.Server at once; a TLS port peeks the
// ClientHello and terminates (handing HTTP to the same server) or passes through; a TCP port
// proxies. A port that changes class across reloads keeps its socket.
type listener struct {
	key        ListenerKey
	addr       string
	ln         net.Listener
	srv        *http.Server
	handoff    *handoff
	conns      *connSet
	acceptDone chan struct{} // closed when the accept loop returns
	serveDone  chan struct{} // closed when the http.Server's Serve returns
	stopping   atomic.Bool
}

func (g *Gateway) newListener(tl *Listener) (*listener, error) {
	host := tl.Bind
	if host == "" {
		host = g.opts.BindAddress
	}
	addr := net.JoinHostPort(host, strconv.FormatUint(uint64(tl.ListenPort), 10))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listener for port %d: %w", tl.Port, err)
	}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	// HTTP/2 over TLS, for connections whose handshake negotiated h2.
	protocols.SetHTTP2(true)
	key := tl.Key()
	return &listener{
		key:     key,
		addr:    ln.Addr().String(),
		ln:      ln,
		handoff: newHandoff(ln.Addr()),
		conns:   newConnSet(),
		srv: &http.Server{
			Handler:           &listenerHandler{g: g, key: key},
			Protocols:         protocols,
			MaxHeaderBytes:    maxHeaderBytes,
			ReadHeaderTimeout: readHeaderTimeout,
			IdleTimeout:       idleTimeout,
			ConnContext:       connContext,
			ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
		},
		acceptDone: make(chan struct{}),
		serveDone:  make(chan struct{}),
	}, nil
}

// serve starts the accept loop and the http.Server; both end when the listener is shut down.
func (l *listener) serve(g *Gateway) {
	go func() {
		defer close(l.serveDone)
		err := l.srv.Serve(l.handoff)
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !l.stopping.Load() {
			g.log.Error("gateway listener stopped", "address", l.addr, "error", err)
		}
	}()
	go func() {
		defer close(l.acceptDone)
		g.accept(l)
	}()
}

// closeSocket stops accepting without waiting for connections.
func (l *listener) closeSocket() {
	l.stopping.Store(true)
	_ = l.ln.Close()
}

// shutdown stops accepting, waits for in-flight requests and proxied connections until ctx
// ends, then closes the connections still open.
func (l *listener) shutdown(ctx context.Context) error {
	l.closeSocket()
	<-l.acceptDone
	err := l.srv.Shutdown(ctx)
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	if err != nil {
		_ = l.srv.Close()
	}
	if cerr := l.conns.shutdown(ctx); cerr != nil && err == nil {
		err = cerr
	}
	// Serve may not have started tracking the handoff when Shutdown ran.
	_ = l.handoff.Close()
	<-l.serveDone
	if err != nil {
		return fmt.Errorf("listener %s: %w", l.addr, err)
	}
	return nil
}
