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

	"github.com/gatehouse-dev/gatehouse/policy"
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
	limit      *connLimit
	acceptDone chan struct{} // closed when the accept loop returns
	serveDone  chan struct{} // closed when the http.Server's Serve returns
	stopping   atomic.Bool
}

func (g *Gateway) newListener(tl *Listener, ds policy.DownstreamSettings) (*listener, error) {
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
	ds = downstreamDefaults(ds)
	srv := newHTTPServer(&listenerHandler{g: g, key: key, maxBody: ds.MaxRequestBytes}, ds, protocols)
	srv.ErrorLog = slog.NewLogLogger(g.log.Handler(), slog.LevelDebug)
	return &listener{
		key:        key,
		addr:       ln.Addr().String(),
		ln:         ln,
		handoff:    newHandoff(ln.Addr()),
		conns:      newConnSet(),
		limit:      &connLimit{max: int64(ds.MaxConnections)},
		srv:        srv,
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
