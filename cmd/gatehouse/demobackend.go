package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/demo"
)

func newDemoBackendCmd() *cobra.Command {
	var (
		name   string
		listen string
		grace  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "demo-backend",
		Short: "Run the httpbin-like echo upstream used by the quickstart, tests and benchmarks",
		Long: `demo-backend serves an httpbin-like echo upstream on one port: HTTP/1.1, HTTP/2 with prior
knowledge (h2c), gRPC (grpc.testing.TestService, grpc.health.v1.Health, reflection) and a
WebSocket echo at /ws. Every response carries the backend name, in the JSON field "backend" and
the x-backend-name header, so traffic splits between v1 and v2 are visible.

HTTP endpoints: / /headers /anything[/...] /status/{code} /delay/{seconds} /ip /healthz /ws`,
		Example: `  gatehouse demo-backend --name v1 --listen 127.0.0.1:9080
  curl -s localhost:9080/headers
  grpcurl -plaintext localhost:9080 grpc.testing.TestService/EmptyCall`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := demo.Options{Name: name, Logger: slog.Default(), ShutdownGrace: grace}
			// Checked before binding, so a bad flag never leaves a port half-served.
			if err := opts.Validate(); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("--listen %s: %w", listen, err)
			}
			return demo.Serve(ctx, ln, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", demo.DefaultName, "backend name echoed in every response and in the x-backend-name header (e.g. v1, v2)")
	f.StringVar(&listen, "listen", "127.0.0.1:9080", "address serving HTTP/1.1, h2c, gRPC and WebSocket")
	f.DurationVar(&grace, "shutdown-grace", 10*time.Second, "how long in-flight requests, streams and WebSockets may run on after SIGTERM")
	return cmd
}
