package gateway

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/authz/jwt"
	"github.com/gatehouse-dev/gatehouse/authz/provider"
)

// startCustomGateway serves docs with the CUSTOM providers of their MeshConfig.
func startCustomGateway(t *testing.T, docs ...string) *testGateway {
	t.Helper()
	snap := snapshot(t, 1, docs...)
	set, errs := provider.Compile(snap.Mesh, provider.Options{})
	if len(errs) != 0 {
		t.Fatalf("provider.Compile: %v", errs)
	}
	keys := jwt.NewKeys(jwt.KeysOptions{})
	t.Cleanup(keys.Close)
	c, err := authz.Compile(snap, keys)
	if err != nil {
		t.Fatalf("authz.Compile: %v", err)
	}
	e := authz.NewEngine(authz.Options{CustomProviderReady: set.Has})
	e.Apply(c)
	g := newTestGateway(t, map[uint32]uint32{80: 0}, func(o *Options) {
		o.Authz = e
		o.Providers = func() *provider.Set { return set }
	})
	if err := g.Apply(snap); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return g
}

func customMesh(providers string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |\n    extensionProviders:\n" + providers
}

const customOnExt = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext, namespace: istio-system}
spec:
  action: CUSTOM
  provider: {name: ext}
  rules: [{to: [{operation: {paths: [/ext/*]}}]}]
`

func TestAuthzCustomHTTPProvider(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if strings.HasPrefix(r.URL.Path, "/authz/ext/deny") {
			w.Header().Set("X-Reason", "denied-by-ext")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, "go away")
			return
		}
		w.Header().Set("X-User", "alice:"+r.Header.Get("X-Ext-Token"))
		w.Header().Set("X-Session", "s1")
	}))
	t.Cleanup(auth.Close)
	var hits atomic.Int64
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("X-Seen-User", r.Header.Get("X-User"))
		w.Header().Set("X-Session", "from-upstream")
	}))
	t.Cleanup(app.Close)
	_, down, _ := net.SplitHostPort(func() string { s := httptest.NewServer(nil); s.Close(); return s.Listener.Addr().String() }())
	g := startCustomGateway(t, edgeGateway, staticEntry("app", "app.internal", port(t, app)), routeAllToApp, customOnExt,
		customMesh("    - name: ext\n      envoyExtAuthzHttp: {service: 127.0.0.1, port: "+port(t, auth)+", pathPrefix: /authz,\n"+
			"        includeRequestHeadersInCheck: [x-ext-*], headersToUpstreamOnAllow: [x-user],\n"+
			"        headersToDownstreamOnDeny: [x-reason], headersToDownstreamOnAllow: [x-session]}\n"+
			"    - name: down\n      envoyExtAuthzHttp: {service: 127.0.0.1, port: "+down+", statusOnError: \"503\"}\n"))
	addr := g.addr(t, 80)

	if res, _ := rawGet(t, addr, "/other"); res.StatusCode != 200 || calls.Load() != 0 {
		t.Errorf("path no CUSTOM rule matches: %d, provider calls %d; want 200 and none", res.StatusCode, calls.Load())
	}
	res, _ := rawGet(t, addr, "/ext/ok", "X-Ext-Token", "t1")
	if res.StatusCode != 200 || res.Header.Get("X-Seen-User") != "alice:t1" || res.Header.Get("X-Session") != "s1" {
		t.Errorf("allowed: %d, upstream saw user %q, client got session %q", res.StatusCode, res.Header.Get("X-Seen-User"), res.Header.Get("X-Session"))
	}
	res, body := rawGet(t, addr, "/ext/deny")
	if res.StatusCode != 401 || body != "go away" || res.Header.Get("X-Reason") != "denied-by-ext" {
		t.Errorf("denied: %d %q %v", res.StatusCode, body, res.Header)
	}
	if calls.Load() != 2 || hits.Load() != 2 {
		t.Errorf("provider calls %d, upstream hits %d; want 2 and 2", calls.Load(), hits.Load())
	}
}

func TestAuthzCustomProviderDown(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	app := authzBackend(t, &hits)
	s := httptest.NewServer(nil)
	_, down, _ := net.SplitHostPort(s.Listener.Addr().String())
	s.Close()
	for _, tc := range []struct {
		name, fields string
		status       int
	}{
		{"closed", `statusOnError: "503"`, 503},
		{"open", `failOpen: true`, 200},
		{"grpc closed", ``, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			kind := "envoyExtAuthzHttp"
			if strings.HasPrefix(tc.name, "grpc") {
				kind = "envoyExtAuthzGrpc"
			}
			g := startCustomGateway(t, edgeGateway, staticEntry("app", "app.internal", port(t, app)), routeAllToApp, customOnExt,
				customMesh("    - name: ext\n      "+kind+": {service: 127.0.0.1, port: "+down+", timeout: 2s, "+tc.fields+"}\n"))
			res, body := rawGet(t, g.addr(t, 80), "/ext/x")
			if res.StatusCode != tc.status || (tc.status != 200 && body != "") {
				t.Errorf("provider down: %d %q, want %d", res.StatusCode, body, tc.status)
			}
		})
	}
}

// TestAuthzCustomThenJWT: Istio runs ext_authz ahead of jwt_authn and RBAC, so the token a
// provider adds (oauth2-proxy's Authorization header, in Kubeflow) is what RequestAuthentication
// verifies and AuthorizationPolicy reads, and a bad one is jwt_authn's 401.
func TestAuthzCustomThenJWT(t *testing.T) {
	t.Parallel()
	iss := newTestIssuer(t)
	good := iss.token(t, map[string]any{"sub": "alice"})
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Errorf("provider saw Authorization %q; the client sent none", r.Header.Get("Authorization"))
		}
		token := good
		if strings.HasSuffix(r.URL.Path, "/bad") {
			token = good[:len(good)-4] + "AAAA"
		}
		w.Header().Set("Authorization", "Bearer "+token)
	}))
	t.Cleanup(auth.Close)
	var hits atomic.Int64
	app := authzBackend(t, &hits)
	jwks, _ := json.Marshal(iss.JWKS)
	g := startCustomGateway(t, edgeGateway, staticEntry("app", "app.internal", port(t, app)), routeAllToApp, customOnExt,
		customMesh("    - name: ext\n      envoyExtAuthzHttp: {service: 127.0.0.1, port: "+port(t, auth)+", headersToUpstreamOnAllow: [authorization]}\n"),
		`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: istio-system}
spec:
  jwtRules:
  - issuer: https://issuer.test
    jwks: `+string(jwks)+`
    outputClaimToHeaders: [{header: x-jwt-sub, claim: sub}]
`, `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: signed-in, namespace: istio-system}
spec:
  action: ALLOW
  rules: [{from: [{source: {requestPrincipals: ["https://issuer.test/alice"]}}]}]
`)
	addr := g.addr(t, 80)
	res, body := rawGet(t, addr, "/ext/ok")
	if res.StatusCode != 200 || res.Header.Get("X-Seen-Sub") != "alice" || res.Header.Get("X-Seen-Authorization") != "" {
		t.Errorf("provider's token: %d %q, upstream saw sub %q and Authorization %q; want 200, alice, none (not forwarded)",
			res.StatusCode, body, res.Header.Get("X-Seen-Sub"), res.Header.Get("X-Seen-Authorization"))
	}
	if res, body := rawGet(t, addr, "/ext/bad"); res.StatusCode != 401 || body != "Jwt verification fails" {
		t.Errorf("provider's bad token: %d %q, want jwt_authn's 401", res.StatusCode, body)
	}
	if res, _ := rawGet(t, addr, "/other"); res.StatusCode != 403 {
		t.Errorf("no CUSTOM match, no token: %d, want RBAC's 403", res.StatusCode)
	}
}
