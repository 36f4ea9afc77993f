package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Serve serves HTTP/1.1, h2c (HTTP/2 with prior knowledge), gRPC and WebSockets on ln until ctx
// is done, then shuts down gracefully: gRPC health turns NOT_SERVING, WebSockets get a
// going-away close frame, and in-flight requests and streams get Options.ShutdownGrace to finish
// before their connections are closed. It returns nil after a shutdown, including one that had to
// close connections at the end of the grace period, and an error if serving itself failed.
// Serve closes ln.
func Serve(ctx context.Context, ln net.Listener, opts Options) error {
	if err := opts.Validate(); err != nil {
		_ = ln.Close()
		return err
	}
	opts = opts.withDefaults()
	b := newBackend(opts)

	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           b,
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(b.log.Handler(), slog.LevelWarn),
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	b.log.Info("demo backend serving", "addr", ln.Addr().String(), "protocols", "http/1.1,h2c,grpc,websocket")

	select {
	case err := <-served:
		b.grpc.Stop()
		return fmt.Errorf("demo backend %s: serve %s: %w", b.name, ln.Addr(), err)
	case <-ctx.Done():
	}

	b.log.Info("demo backend shutting down", "grace", opts.ShutdownGrace)
	graceCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.ShutdownGrace)
	defer cancel()
	b.shutdown(graceCtx, srv)
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("demo backend %s: serve %s: %w", b.name, ln.Addr(), err)
	}
	b.log.Info("demo backend stopped")
	return nil
}

// shutdown drains everything the backend serves, force-closing what outlives ctx.
func (b *backend) shutdown(ctx context.Context, srv *http.Server) {
	b.health.Shutdown()
	wsDone := make(chan error, 1)
	go func() { wsDone <- b.ws.shutdown(ctx) }()

	if err := srv.Shutdown(ctx); err != nil {
		b.log.Warn("demo backend: requests still in flight after the shutdown grace period; closing them", "error", err)
		// Closing the connections also cancels the gRPC streams riding on them.
		_ = srv.Close()
	}
	b.grpc.Stop()
	if err := <-wsDone; err != nil {
		b.log.Warn("demo backend: " + err.Error())
	}
}
