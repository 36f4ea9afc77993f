package demo

import (
	"context"
	"errors"
	"io"
	"time"

	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

// maxPayloadBytes bounds a requested response payload, so one small request cannot make the
// backend allocate gigabytes.
const maxPayloadBytes = 4 << 20

// testService is the echo service. It uses grpc.testing.TestService because its generated code
// ships inside the grpc module and every gRPC tool (grpcurl, ghz, the interop clients) knows it.
//
// Echo rules: a requested response size above zero is honoured with that many zero bytes, as the
// gRPC interop tests expect; otherwise the request payload comes back unchanged. A request
// carrying response_status fails with that status, so fault and retry tests need no extra code.
// server_id is always this backend's name.
type testService struct {
	testgrpc.UnimplementedTestServiceServer
	name string
}

func (t *testService) EmptyCall(context.Context, *testgrpc.Empty) (*testgrpc.Empty, error) {
	return &testgrpc.Empty{}, nil
}

func (t *testService) UnaryCall(_ context.Context, req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	if err := echoStatus(req.GetResponseStatus()); err != nil {
		return nil, err
	}
	p, err := responsePayload(req.GetResponseType(), req.GetResponseSize(), req.GetPayload())
	if err != nil {
		return nil, err
	}
	return &testgrpc.SimpleResponse{Payload: p, ServerId: t.name}, nil
}

// CacheableUnaryCall answers as UnaryCall; caching is the caller's business.
func (t *testService) CacheableUnaryCall(ctx context.Context, req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	return t.UnaryCall(ctx, req)
}

func (t *testService) StreamingOutputCall(req *testgrpc.StreamingOutputCallRequest, stream testgrpc.TestService_StreamingOutputCallServer) error {
	return streamResponses(stream.Context(), req, stream.Send)
}

func (t *testService) FullDuplexCall(stream testgrpc.TestService_FullDuplexCallServer) error {
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := streamResponses(stream.Context(), req, stream.Send); err != nil {
			return err
		}
	}
}

// streamResponses sends one response per response_parameters entry, each after its interval,
// or a single echo of the request payload when there are none.
func streamResponses(ctx context.Context, req *testgrpc.StreamingOutputCallRequest, send func(*testgrpc.StreamingOutputCallResponse) error) error {
	if err := echoStatus(req.GetResponseStatus()); err != nil {
		return err
	}
	params := req.GetResponseParameters()
	if len(params) == 0 {
		return send(&testgrpc.StreamingOutputCallResponse{Payload: req.GetPayload()})
	}
	for _, rp := range params {
		if err := wait(ctx, time.Duration(rp.GetIntervalUs())*time.Microsecond); err != nil {
			return err
		}
		p, err := responsePayload(req.GetResponseType(), rp.GetSize(), req.GetPayload())
		if err != nil {
			return err
		}
		if err := send(&testgrpc.StreamingOutputCallResponse{Payload: p}); err != nil {
			return err
		}
	}
	return nil
}

func responsePayload(typ testgrpc.PayloadType, size int32, in *testgrpc.Payload) (*testgrpc.Payload, error) {
	switch {
	case size < 0 || size > maxPayloadBytes:
		return nil, status.Errorf(codes.InvalidArgument, "response size %d: must be 0 to %d", size, maxPayloadBytes)
	case size == 0:
		return in, nil
	default:
		return &testgrpc.Payload{Type: typ, Body: make([]byte, size)}, nil
	}
}

func echoStatus(s *testgrpc.EchoStatus) error {
	if s.GetCode() == 0 {
		return nil
	}
	return status.Error(codes.Code(s.GetCode()), s.GetMessage())
}

// wait sleeps for d, capped at maxDelay like /delay, unless ctx ends first.
func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(min(d, maxDelay))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}

var _ testgrpc.TestServiceServer = (*testService)(nil)
