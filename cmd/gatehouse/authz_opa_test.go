package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

const opaCmdConfig = `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    extensionProviders:
    - name: opa-ext-authz
      envoyExtAuthzGrpc: {service: opa.opa.svc.cluster.local, port: 9191}
---
apiVersion: gatehouse.dev/v1alpha1
kind: Settings
metadata: {name: gatehouse, namespace: istio-system}
spec:
  opa:
  - provider: opa-ext-authz
    dir: rego
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext, namespace: foo}
spec:
  action: CUSTOM
  provider: {name: opa-ext-authz}
  rules: [{to: [{operation: {paths: ["/api/*"]}}]}]
`

// usersRego allows the users of data.users and answers others with a 401 and a body, in
// opa-envoy-plugin's decision object.
const usersRego = `package envoy.authz

user := input.attributes.request.http.headers["x-user"]

default allow := {"allowed": false, "http_status": 401, "body": "who are you?"}

allow := {"allowed": true, "headers": {"x-opa-user": user}} if user in data.users
`

// TestAuthzCommandBuiltinOPA runs `gatehouse authz --config DIR` with a Settings.opa provider and
// asks it over gRPC: CUSTOM rules are decided by the Rego under DIR/rego, and an edit of that
// Rego's data takes effect without a restart.
func TestAuthzCommandBuiltinOPA(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rego"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, filepath.Join(dir, "rego", "policy.rego"), usersRego)
	writeConfig(t, filepath.Join(dir, "rego", "data.json"), `{"users": ["alice"]}`)
	writeConfig(t, filepath.Join(dir, "config.yaml"), opaCmdConfig)

	grpcAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freeTCPPort(t)))
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
		authzListenFlags: authzListenFlags{listen: grpcAddr},
		defaultNamespace: "foo",
	}
	go func() { done <- runAuthz(ctx, f) }()

	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	client := authv3.NewAuthorizationClient(conn)
	check := func(path, user string) (*authv3.CheckResponse, error) {
		return client.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: "GET", Host: "api.foo", Path: path, Scheme: "http", Headers: map[string]string{"x-user": user},
			}},
		}})
	}
	// until polls until the answer for user on path is ok (an ext_authz status code, 0 for OK).
	until := func(path, user string, ok func(*authv3.CheckResponse) bool) *authv3.CheckResponse {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			resp, err := check(path, user)
			if err == nil && ok(resp) {
				return resp
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s as %q: last answer %v, %v", path, user, resp, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	denied := func(r *authv3.CheckResponse) bool {
		return r.GetDeniedResponse().GetStatus().GetCode() == http.StatusUnauthorized
	}
	allowed := func(r *authv3.CheckResponse) bool { return r.GetStatus().GetCode() == 0 }

	resp := until("/api/books", "bob", denied)
	if body := resp.GetDeniedResponse().GetBody(); body != "who are you?" {
		t.Errorf("denial body %q, want the policy's", body)
	}
	resp = until("/api/books", "alice", allowed)
	var sawHeader bool
	for _, h := range resp.GetOkResponse().GetHeaders() {
		sawHeader = sawHeader || (h.GetHeader().GetKey() == "x-opa-user" && h.GetHeader().GetValue() == "alice")
	}
	if !sawHeader {
		t.Errorf("OK response lacks the policy's x-opa-user header: %v", resp)
	}
	until("/public", "bob", allowed) // no CUSTOM rule covers it

	// Hot reload: a data edit under the Settings dir lets bob in.
	writeConfig(t, filepath.Join(dir, "rego", "data.json"), `{"users": ["alice", "bob"]}`)
	until("/api/books", "bob", allowed)
}
