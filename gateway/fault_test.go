package gateway

import (
	"testing"
	"time"
)

func TestFaultInjection(t *testing.T) {
	t.Parallel()
	up := backend(t, "app")
	vs := `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: all, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    fault: {abort: {httpStatus: 500, percentage: {value: 100}}}
    route: [{destination: {host: app.internal}}]
  - match: [{headers: {end-user: {exact: never}}}]
    fault: {abort: {httpStatus: 500, percentage: {value: 0}}}
    route: [{destination: {host: app.internal}}]
  - match: [{headers: {content-type: {prefix: application/grpc}}}]
    fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 100}}}
    route: [{destination: {host: app.internal}}]
  - match: [{uri: {prefix: /slow}}]
    fault: {delay: {fixedDelay: 0.3s, percentage: {value: 100}}}
    route: [{destination: {host: app.internal}}]
  - route: [{destination: {host: app.internal}}]
`
	g := startGateway(t, snapshot(t, 1, edgeGateway, staticEntry("app", "app.internal", port(t, up)), vs))
	c := newClient(t)
	tests := []struct {
		name       string
		path       string
		headers    []string
		want       int
		grpcStatus string
	}{
		{"jason is aborted", "/", []string{"end-user", "jason"}, 500, ""},
		{"others pass", "/", []string{"end-user", "mary"}, 200, ""},
		{"0% aborts none", "/", []string{"end-user", "never"}, 200, ""},
		{"gRPC abort is trailers-only", "/svc/Method", []string{"content-type", "application/grpc"}, 200, "14"},
	}
	for _, tt := range tests {
		for range 5 {
			res, err := get(t, c, g.addr(t, 80), "x", tt.path, tt.headers...)
			if err != nil {
				t.Fatal(err)
			}
			if res.code != tt.want || res.header.Get("Grpc-Status") != tt.grpcStatus {
				t.Fatalf("%s: got %d grpc-status %q, want %d %q", tt.name, res.code, res.header.Get("Grpc-Status"), tt.want, tt.grpcStatus)
			}
		}
	}
	start := time.Now()
	res, err := get(t, c, g.addr(t, 80), "x", "/slow")
	if err != nil || res.code != 200 {
		t.Fatalf("delayed request: %v %d", err, res.code)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("delayed request took %v, want at least the 300ms delay", d)
	}
}
