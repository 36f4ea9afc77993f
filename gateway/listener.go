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

// listener is one bound port and its HTTP server.
type listener struct {
	key      ListenerKey
	addr     string
	ln       net.Listener
	srv      *http.Server
	done     chan struct{} // closed when Serve returns
	stopping atomic.Bool
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
	key := tl.Key()
	return &listener{
		key:  key,
		addr: ln.Addr().String(),
		ln:   ln,
		srv: &http.Server{
			Handler:           &listenerHandler{g: g, key: key},
			Protocols:         protocols,
			MaxHeaderBytes:    maxHeaderBytes,
			ReadHeaderTimeout: readHeaderTimeout,
			IdleTimeout:       idleTimeout,
			ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
		},
		done: make(chan struct{}),
	}, nil
}

// serve accepts on the listener in a goroutine that ends when the listener is shut down.
func (l *listener) serve(log *slog.Logger) {
	go func() {
		defer close(l.done)
		err := l.srv.Serve(l.ln)
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !l.stopping.Load() {
			log.Error("gateway listener stopped", "address", l.addr, "error", err)
		}
	}()
}

// closeSocket stops accepting without waiting for connections.
func (l *listener) closeSocket() {
	l.stopping.Store(true)
	_ = l.ln.Close()
}

// shutdown stops accepting, waits for in-flight requests until ctx ends, then closes the
// connections still open.
func (l *listener) shutdown(ctx context.Context) error {
	l.stopping.Store(true)
	err := l.srv.Shutdown(ctx)
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	if err != nil {
		_ = l.srv.Close()
		err = fmt.Errorf("listener %s: %w", l.addr, err)
	}
	// Serve may not have started tracking the socket when Shutdown ran.
	_ = l.ln.Close()
	<-l.done
	return err
}
