package demo

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
)

// grpcServiceNames lists what the gRPC side serves, for the index page.
var grpcServiceNames = []string{
	testgrpc.TestService_ServiceDesc.ServiceName,
	healthgrpc.Health_ServiceDesc.ServiceName,
	"grpc.reflection.v1.ServerReflection",
	"grpc.reflection.v1alpha.ServerReflection",
}

// newGRPCServer builds the gRPC side, served through grpc.Server.ServeHTTP on the shared port.
// Reflection is on so grpcurl and ghz need no .proto files.
func newGRPCServer(name string) (*grpc.Server, *health.Server) {
	md := metadata.Pairs("x-backend-name", name)
	s := grpc.NewServer(
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
			// Before the handler runs, so error responses name the backend too.
			if err := grpc.SetHeader(ctx, md); err != nil {
				return nil, err
			}
			return next(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, next grpc.StreamHandler) error {
			if err := ss.SetHeader(md); err != nil {
				return err
			}
			return next(srv, ss)
		}),
	)
	hs := health.NewServer()
	hs.SetServingStatus(testgrpc.TestService_ServiceDesc.ServiceName, healthgrpc.HealthCheckResponse_SERVING)
	healthgrpc.RegisterHealthServer(s, hs)
	testgrpc.RegisterTestServiceServer(s, &testService{name: name})
	reflection.Register(s)
	return s, hs
}
