package extauthz

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/authz/jwt"
	"github.com/gatehouse-dev/gatehouse/authz/jwt/jwttest"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// signer signs the server tests' tokens with one ES256 key, published in testPolicies.
type signer struct{ *jwttest.Signer }

func newSigner(t *testing.T) *signer {
	t.Helper()
	return &signer{jwttest.New(t, jwa.ES256, "k1")}
}

// token is a token from iss for sub, valid for an hour.
func (s *signer) token(t *testing.T, iss, sub string) string {
	t.Helper()
	return s.Sign(t, map[string]any{"iss": iss, "sub": sub})
}

// testPolicies are the fixtures every server test uses: in namespace foo, a JWT rule that
// outputs sub to x-jwt-sub, a DENY of /admin*, and an ALLOW of GET only for app=httpbin.
func testPolicies(s *signer) string {
	jwks, _ := json.Marshal(s.JWKS)
	return `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: foo}
spec:
  jwtRules:
  - issuer: "https://issuer.example"
    jwks: ` + string(jwks) + `
    outputClaimToHeaders: [{header: x-jwt-sub, claim: sub}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: foo}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: httpbin-get, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  action: ALLOW
  rules: [{to: [{operation: {methods: ["GET"]}}]}]
`
}

// ingress is the default workload of test servers: no policy applies to it.
var ingress = authz.NewWorkload("istio-system", map[string]string{"istio": "ingressgateway"}, "istio-ingressgateway")

// newTestEngine loads docs into an Engine and a Server using it.
func newTestEngine(t *testing.T, docs ...string) (*authz.Engine, *Server) {
	t.Helper()
	snap, ps := policy.ParseSnapshot(map[string][]byte{"test.yaml": []byte(strings.Join(docs, "\n---\n"))})
	if snap == nil {
		t.Fatalf("config does not load:\n%v", ps)
	}
	keys := jwt.NewKeys(jwt.KeysOptions{})
	t.Cleanup(keys.Close)
	c, err := authz.Compile(snap, keys)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	e := authz.NewEngine(authz.Options{})
	e.Apply(c)
	srv := NewServer(e, Options{DefaultWorkload: ingress, PathPrefix: "/check"})
	srv.Apply(snap)
	return e, srv
}

// serveGRPC serves srv on a loopback port and returns a connection to it.
func serveGRPC(t *testing.T, srv *Server) (addr string, conn *grpc.ClientConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	srv.RegisterGRPC(g)
	go func() { _ = g.Serve(ln) }()
	t.Cleanup(g.Stop)
	conn, err = grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return ln.Addr().String(), conn
}

// httpCheck is a CheckRequest for an HTTP request, modified by mods.
func httpCheck(method, target string, mods ...func(*authv3.AttributeContext)) *authv3.CheckRequest {
	a := &authv3.AttributeContext{
		Source:      &authv3.AttributeContext_Peer{Address: socketAddress(netip.MustParseAddrPort("10.0.0.1:40000"))},
		Destination: &authv3.AttributeContext_Peer{Address: socketAddress(netip.MustParseAddrPort("10.0.0.2:8080"))},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: method, Host: "httpbin.foo", Path: target, Scheme: "http",
			Headers: map[string]string{":authority": "httpbin.foo", ":method": method, ":path": target, "user-agent": "test"},
		}},
	}
	for _, m := range mods {
		m(a)
	}
	return &authv3.CheckRequest{Attributes: a}
}

func withExt(kv ...string) func(*authv3.AttributeContext) {
	return func(a *authv3.AttributeContext) {
		a.ContextExtensions = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			a.ContextExtensions[kv[i]] = kv[i+1]
		}
	}
}

func withHeader(k, v string) func(*authv3.AttributeContext) {
	return func(a *authv3.AttributeContext) { a.Request.Http.Headers[k] = v }
}

func withDestPrincipal(p string) func(*authv3.AttributeContext) {
	return func(a *authv3.AttributeContext) { a.Destination.Principal = p }
}

func check(t *testing.T, c authv3.AuthorizationClient, req *authv3.CheckRequest) *authv3.CheckResponse {
	t.Helper()
	resp, err := c.Check(context.Background(), req)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return resp
}
