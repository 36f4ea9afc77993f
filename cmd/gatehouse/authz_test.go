package main

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TestAuthzCommand runs `gatehouse authz --config DIR` in-process and asks it over gRPC and HTTP.
func TestAuthzCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeConfig(t, filepath.Join(dir, "policy.yaml"), `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: foo}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin"]}}]}]
`)
	grpcAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freeTCPPort(t)))
	httpAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freeTCPPort(t)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("authz: %v", err)
		}
	})
	f := authzCmdFlags{
		processFlags:     processFlags{sourceFlags: sourceFlags{config: dir}, logLevel: "error", workloadFlags: defaultWorkloadFlags()},
		authzListenFlags: authzListenFlags{listen: grpcAddr, httpListen: httpAddr},
		defaultNamespace: "foo",
	}
	go func() { done <- runAuthz(ctx, f) }()

	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	client := authv3.NewAuthorizationClient(conn)
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "10.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 1234}}}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "GET", Host: "web.foo", Path: "/admin", Scheme: "http",
		}},
	}}
	// Poll until the first config is in force: before it, checks fail closed with 503.
	deadline := time.Now().Add(20 * time.Second)
	var last string
	for {
		resp, err := client.Check(ctx, req)
		if err == nil && resp.GetDeniedResponse().GetStatus().GetCode() == http.StatusForbidden {
			break
		}
		if err != nil {
			last = err.Error()
		} else {
			last = resp.String()
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 403 for /admin; last: %s", last)
		}
		time.Sleep(20 * time.Millisecond)
	}
	req.Attributes.Request.Http.Path = "/ok"
	if resp, err := client.Check(ctx, req); err != nil || resp.GetStatus().GetCode() != 0 {
		t.Fatalf("/ok: %v %v, want OK", resp, err)
	}

	for path, want := range map[string]int{"/admin": http.StatusForbidden, "/ok": http.StatusOK} {
		resp, err := http.Get("http://" + httpAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("HTTP %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}
