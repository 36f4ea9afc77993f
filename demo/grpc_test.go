package demo

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	reflectiongrpc "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
)

func dialGRPC(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func TestGRPCHealth(t *testing.T) {
	t.Parallel()
	conn := dialGRPC(t, startBackend(t, Options{Name: "v1"}))
	client := healthgrpc.NewHealthClient(conn)

	tests := []struct {
		service string
		want    healthgrpc.HealthCheckResponse_ServingStatus
		code    codes.Code
	}{
		{service: "", want: healthgrpc.HealthCheckResponse_SERVING},
		{service: "grpc.testing.TestService", want: healthgrpc.HealthCheckResponse_SERVING},
		{service: "no.such.Service", code: codes.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			t.Parallel()
			res, err := client.Check(t.Context(), &healthgrpc.HealthCheckRequest{Service: tt.service})
			if status.Code(err) != tt.code {
				t.Fatalf("Check(%q) error = %v, want code %s", tt.service, err, tt.code)
			}
			if err == nil && res.GetStatus() != tt.want {
				t.Errorf("Check(%q) = %s, want %s", tt.service, res.GetStatus(), tt.want)
			}
		})
	}
}

func TestGRPCUnary(t *testing.T) {
	t.Parallel()
	client := testgrpc.NewTestServiceClient(dialGRPC(t, startBackend(t, Options{Name: "v2"})))

	tests := []struct {
		name     string
		req      *testgrpc.SimpleRequest
		wantBody []byte
		code     codes.Code
	}{
		{
			name:     "echo payload",
			req:      &testgrpc.SimpleRequest{Payload: &testgrpc.Payload{Body: []byte("ping")}},
			wantBody: []byte("ping"),
		},
		{
			name:     "requested size",
			req:      &testgrpc.SimpleRequest{ResponseSize: 314159, Payload: &testgrpc.Payload{Body: make([]byte, 271828)}},
			wantBody: make([]byte, 314159),
		},
		{
			name: "requested status",
			req:  &testgrpc.SimpleRequest{ResponseStatus: &testgrpc.EchoStatus{Code: int32(codes.Unavailable), Message: "injected"}},
			code: codes.Unavailable,
		},
		{
			name: "size over the cap",
			req:  &testgrpc.SimpleRequest{ResponseSize: maxPayloadBytes + 1},
			code: codes.InvalidArgument,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var header metadata.MD
			res, err := client.UnaryCall(t.Context(), tt.req, grpc.Header(&header))
			if status.Code(err) != tt.code {
				t.Fatalf("UnaryCall error = %v, want code %s", err, tt.code)
			}
			if got := header.Get("x-backend-name"); !slices.Equal(got, []string{"v2"}) {
				t.Errorf("x-backend-name metadata = %q, want [v2]", got)
			}
			if err != nil {
				return
			}
			if !bytes.Equal(res.GetPayload().GetBody(), tt.wantBody) {
				t.Errorf("payload = %d bytes, want %d", len(res.GetPayload().GetBody()), len(tt.wantBody))
			}
			if res.GetServerId() != "v2" {
				t.Errorf("server_id = %q, want v2", res.GetServerId())
			}
		})
	}

	t.Run("empty", func(t *testing.T) {
		t.Parallel()
		if _, err := client.EmptyCall(t.Context(), &testgrpc.Empty{}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestGRPCStreams(t *testing.T) {
	t.Parallel()
	client := testgrpc.NewTestServiceClient(dialGRPC(t, startBackend(t, Options{Name: "v1"})))

	t.Run("streaming output", func(t *testing.T) {
		t.Parallel()
		stream, err := client.StreamingOutputCall(t.Context(), &testgrpc.StreamingOutputCallRequest{
			ResponseParameters: []*testgrpc.ResponseParameters{{Size: 3}, {Size: 0}, {Size: 5, IntervalUs: 10}},
			Payload:            &testgrpc.Payload{Body: []byte("echo")},
		})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for {
			res, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, string(res.GetPayload().GetBody()))
		}
		want := []string{"\x00\x00\x00", "echo", "\x00\x00\x00\x00\x00"}
		if !slices.Equal(got, want) {
			t.Errorf("responses = %q, want %q", got, want)
		}
		if md, err := stream.Header(); err != nil || !slices.Equal(md.Get("x-backend-name"), []string{"v1"}) {
			t.Errorf("header = %v (%v), want x-backend-name v1", md, err)
		}
	})

	t.Run("full duplex", func(t *testing.T) {
		t.Parallel()
		stream, err := client.FullDuplexCall(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, msg := range []string{"one", "two", "", "four"} {
			if err := stream.Send(&testgrpc.StreamingOutputCallRequest{Payload: &testgrpc.Payload{Body: []byte(msg)}}); err != nil {
				t.Fatal(err)
			}
			res, err := stream.Recv()
			if err != nil {
				t.Fatal(err)
			}
			if got := string(res.GetPayload().GetBody()); got != msg {
				t.Errorf("echo = %q, want %q", got, msg)
			}
		}
		if err := stream.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
			t.Errorf("after CloseSend: %v, want EOF", err)
		}
	})

	t.Run("full duplex status", func(t *testing.T) {
		t.Parallel()
		stream, err := client.FullDuplexCall(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		err = stream.Send(&testgrpc.StreamingOutputCallRequest{
			ResponseStatus: &testgrpc.EchoStatus{Code: int32(codes.PermissionDenied), Message: "nope"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); status.Code(err) != codes.PermissionDenied {
			t.Errorf("Recv error = %v, want PermissionDenied", err)
		}
	})
}

// TestGRPCReflection checks what grpcurl relies on: listing services without .proto files.
func TestGRPCReflection(t *testing.T) {
	t.Parallel()
	client := reflectiongrpc.NewServerReflectionClient(dialGRPC(t, startBackend(t, Options{Name: "v1"})))
	stream, err := client.ServerReflectionInfo(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	err = stream.Send(&reflectiongrpc.ServerReflectionRequest{
		MessageRequest: &reflectiongrpc.ServerReflectionRequest_ListServices{},
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range res.GetListServicesResponse().GetService() {
		got = append(got, s.GetName())
	}
	slices.Sort(got)
	want := slices.Clone(grpcServiceNames)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("services = %q, want %q", got, want)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
}
