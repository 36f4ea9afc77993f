package extauthz_test

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/lestrrat-go/jwx/v2/jwa"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/authz/extauthz"
	"github.com/gatehouse-dev/gatehouse/authz/jwt"
	"github.com/gatehouse-dev/gatehouse/authz/jwt/jwttest"
	"github.com/gatehouse-dev/gatehouse/authz/provider"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// remoteProvider is an envoyExtAuthzGrpc service: it denies /ext/deny* with its own reply and
// allows anything else with a request header and a response header.
type remoteProvider struct {
	authv3.UnimplementedAuthorizationServer
	calls atomic.Int64
}

func (p *remoteProvider) Check(_ context.Context, cr *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	p.calls.Add(1)
	if strings.HasPrefix(cr.GetAttributes().GetRequest().GetHttp().GetPath(), "/ext/deny") {
		return &authv3.CheckResponse{
			Status: &rpcstatus.Status{Code: int32(codes.PermissionDenied)},
			HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
				Status:  &typev3.HttpStatus{Code: typev3.StatusCode_Unauthorized},
				Body:    "provider says no",
				Headers: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-reason", Value: "provider"}}},
			}},
		}, nil
	}
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			Headers:              []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-user", Value: "bob"}}},
			HeadersToRemove:      []string{"x-drop"},
			ResponseHeadersToAdd: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-session", Value: "s1"}}},
		}},
	}, nil
}

// serve serves what register registers on loopback until the test ends.
func serve(t *testing.T, register func(*grpc.Server)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	register(g)
	go func() { _ = g.Serve(ln) }()
	t.Cleanup(g.Stop)
	return ln.Addr().String()
}

// customToken signs a token for sub with a fresh ES256 key and returns it with the key's JWKS.
func customToken(t *testing.T, iss, sub string) (token, jwks string) {
	t.Helper()
	s := jwttest.New(t, jwa.ES256, "k1")
	return s.Sign(t, map[string]any{"iss": iss, "sub": sub}), s.JWKS
}

// customConfig: in namespace foo, a JWT rule writing sub to x-jwt-sub, a CUSTOM rule sending
// /ext/* to the provider "ext", and a DENY of /ext/deny and /ext/forbidden.
func customConfig(jwks, providerAddr string) string {
	quoted, _ := json.Marshal(jwks)
	host, port, _ := net.SplitHostPort(providerAddr)
	return `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    extensionProviders:
    - name: ext
      envoyExtAuthzGrpc: {service: ` + host + `, port: ` + port + `}
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: foo}
spec:
  jwtRules:
  - issuer: https://issuer.example
    jwks: ` + string(quoted) + `
    outputClaimToHeaders: [{header: x-jwt-sub, claim: sub}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext, namespace: foo}
spec:
  action: CUSTOM
  provider: {name: ext}
  rules: [{to: [{operation: {paths: [/ext/*]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny, namespace: foo}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: [/ext/deny, /ext/forbidden]}}]}]
`
}

// TestCheckAsksCustomProvider: the gRPC Check server, wired to the providers as `gatehouse run`
// wires it (Options.Custom = provider.Set.CheckResponse), asks the remote provider only when the
// CUSTOM rule matches, before its own DENY: the provider's denial is the answer, and an allowed
// request carries both the JWT rule's headers and the provider's changes.
func TestCheckAsksCustomProvider(t *testing.T) {
	t.Parallel()
	remote := &remoteProvider{}
	remoteAddr := serve(t, func(g *grpc.Server) { authv3.RegisterAuthorizationServer(g, remote) })
	token, jwks := customToken(t, "https://issuer.example", "alice")

	snap, problems := policy.ParseSnapshot(map[string][]byte{"config.yaml": []byte(customConfig(jwks, remoteAddr))})
	if snap == nil {
		t.Fatalf("config does not load:\n%v", problems)
	}
	set, errs := provider.Compile(snap.Mesh, provider.Options{})
	if len(errs) != 0 {
		t.Fatalf("provider.Compile: %v", errs)
	}
	t.Cleanup(func() { set.Retire(nil) })
	keys := jwt.NewKeys(jwt.KeysOptions{})
	t.Cleanup(keys.Close)
	compiled, err := authz.Compile(snap, keys)
	if err != nil {
		t.Fatalf("authz.Compile: %v", err)
	}
	engine := authz.NewEngine(authz.Options{CustomProviderReady: set.Has})
	engine.Apply(compiled)
	srv := extauthz.NewServer(engine, extauthz.Options{Custom: func(ctx context.Context, name string, r *authz.Request, body []byte) *authv3.CheckResponse {
		resp, _ := set.CheckResponse(ctx, name, r, body)
		return resp
	}})
	srv.Apply(snap)
	conn, err := grpc.NewClient(serve(t, srv.RegisterGRPC), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	client := authv3.NewAuthorizationClient(conn)

	tests := []struct {
		name    string
		path    string
		asked   bool
		code    codes.Code
		status  int    // denied_response status
		body    string // denied_response body
		headers []string
		reply   []string // response_headers_to_add, or the denial's headers
	}{
		{name: "no CUSTOM rule matches", path: "/other", code: codes.OK, headers: []string{"x-jwt-sub=alice"}},
		{name: "provider allows", path: "/ext/ok", asked: true, code: codes.OK,
			headers: []string{"x-jwt-sub=alice", "x-user=bob"}, reply: []string{"x-session=s1"}},
		{name: "provider denies ahead of DENY", path: "/ext/deny", asked: true, code: codes.PermissionDenied,
			status: 401, body: "provider says no", reply: []string{"x-reason=provider"}},
		{name: "provider allows, DENY denies", path: "/ext/forbidden", asked: true, code: codes.PermissionDenied,
			status: 403, body: "RBAC: access denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := remote.calls.Load()
			resp, err := client.Check(t.Context(), checkRequest(tt.path, token))
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if asked := remote.calls.Load() > before; asked != tt.asked {
				t.Errorf("provider asked: %v, want %v", asked, tt.asked)
			}
			if got := codes.Code(resp.GetStatus().GetCode()); got != tt.code {
				t.Fatalf("code %v (%s), want %v", got, resp.GetStatus().GetMessage(), tt.code)
			}
			if tt.code == codes.OK {
				ok := resp.GetOkResponse()
				if got := headerList(ok.GetHeaders()); !equal(got, tt.headers) {
					t.Errorf("upstream headers %v, want %v (the engine's, then the provider's)", got, tt.headers)
				}
				if got := headerList(ok.GetResponseHeadersToAdd()); !equal(got, tt.reply) {
					t.Errorf("response headers %v, want %v", got, tt.reply)
				}
				if tt.asked && (len(ok.GetHeadersToRemove()) == 0 || ok.GetHeadersToRemove()[len(ok.GetHeadersToRemove())-1] != "x-drop") {
					t.Errorf("headers_to_remove %v, want the provider's x-drop", ok.GetHeadersToRemove())
				}
				return
			}
			d := resp.GetDeniedResponse()
			if int(d.GetStatus().GetCode()) != tt.status || d.GetBody() != tt.body {
				t.Errorf("denied %d %q, want %d %q", d.GetStatus().GetCode(), d.GetBody(), tt.status, tt.body)
			}
			if got := headerList(d.GetHeaders()); len(tt.reply) > 0 && !equal(got, tt.reply) {
				t.Errorf("denial headers %v, want %v", got, tt.reply)
			}
		})
	}
}

// checkRequest is what the sidecar of a workload in foo sends for GET path with a bearer token.
func checkRequest(path, token string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: "10.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 40000}}}}},
		Destination: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: "10.0.0.2", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 8080}}}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "GET", Host: "httpbin.foo", Path: path, Scheme: "http",
			Headers: map[string]string{":authority": "httpbin.foo", ":method": "GET", ":path": path,
				"authorization": "Bearer " + token, "x-drop": "secret"},
		}},
		ContextExtensions: map[string]string{extauthz.ExtNamespace: "foo"},
	}}
}

func headerList(hs []*corev3.HeaderValueOption) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.GetHeader().GetKey()+"="+h.GetHeader().GetValue())
	}
	return out
}

func equal(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }
