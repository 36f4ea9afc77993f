package demo

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/grpc/codes"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

func TestServeRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    Options
		closeLn bool
		want    string
	}{
		{name: "control byte in name", opts: Options{Name: "v1\r\nx: y"}, want: "not printable ASCII"},
		{name: "long name", opts: Options{Name: strings.Repeat("n", maxNameLen+1)}, want: "longer than"},
		{name: "negative grace", opts: Options{ShutdownGrace: -time.Second}, want: "negative"},
		{name: "closed listener", closeLn: true, want: "serve"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			if tt.closeLn {
				_ = ln.Close()
			}
			tt.opts.Logger = testLogger(t)
			err = Serve(t.Context(), ln, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Serve = %v, want an error containing %q", err, tt.want)
			}
			// Serve owns the listener even when it refuses to start.
			if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
				t.Errorf("Accept after Serve = %v, want net.ErrClosed", err)
			}
		})
	}
}

func TestHandlerPanicsOnInvalidOptions(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("Handler accepted a name with a newline")
		}
	}()
	Handler(Options{Name: "a\nb"})
}

func TestShutdownClosesWebSockets(t *testing.T) {
	t.Parallel()
	addr, stop := startServe(t, Options{Name: "v1"})
	c := dialWS(t, addr)
	if _, _, err := c.ReadMessage(); err != nil {
		t.Fatal(err) // the hello: the connection is registered
	}

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()

	_, _, err := c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("read during shutdown = %v, want close 1001 going away", err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
}

func TestShutdownReportsNotServing(t *testing.T) {
	t.Parallel()
	addr, stop := startServe(t, Options{Name: "v1"})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	watch, err := healthgrpc.NewHealthClient(dialGRPC(t, addr)).Watch(ctx, &healthgrpc.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := watch.Recv(); err != nil || res.GetStatus() != healthgrpc.HealthCheckResponse_SERVING {
		t.Fatalf("first status = %v (%v), want SERVING", res, err)
	}

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()

	if res, err := watch.Recv(); err != nil || res.GetStatus() != healthgrpc.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("status during shutdown = %v (%v), want NOT_SERVING", res, err)
	}
	cancel() // a client that saw NOT_SERVING goes away; that lets the shutdown finish
	if err := <-stopped; err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
}

// TestShutdownGraceEnds holds a gRPC stream open past the grace period: Serve must close it and
// return instead of waiting for the client.
func TestShutdownGraceEnds(t *testing.T) {
	t.Parallel()
	addr, stop := startServe(t, Options{Name: "v1", ShutdownGrace: 50 * time.Millisecond})
	stream, err := testgrpc.NewTestServiceClient(dialGRPC(t, addr)).FullDuplexCall(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&testgrpc.StreamingOutputCallRequest{Payload: &testgrpc.Payload{Body: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}

	if err := stop(); err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
	if _, err := stream.Recv(); status.Code(err) == codes.OK {
		t.Errorf("stream still open after shutdown: %v", err)
	}
}
