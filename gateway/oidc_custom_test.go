package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/authz/oidc/session"
)

// kubeflowCustom is Kubeflow's wiring of oauth2-proxy, as its manifests apply it: a MeshConfig
// extension provider and a CUSTOM policy at the ingress gateway that skips requests with an
// Authorization header (RequestAuthentication decides those) and the sign-in paths. The login
// takes the provider's place by name.
var kubeflowCustom = []string{
	customMesh("    - name: oauth2-proxy\n      envoyExtAuthzHttp: {service: oauth2-proxy.oauth2-proxy.svc.cluster.local, port: 80,\n" +
		"        headersToUpstreamOnAllow: [authorization, kubeflow-userid], headersToDownstreamOnDeny: [content-type, set-cookie]}\n"),
	`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: istio-ingressgateway-oauth2-proxy, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: CUSTOM
  provider: {name: oauth2-proxy}
  rules:
  - to: [{operation: {notPaths: ["/dex/*", "/oauth2/*", "/public/*"]}}]
    when: [{key: "request.headers[authorization]", notValues: ["*"]}]
`,
	`apiVersion: gatehouse.dev/v1alpha1
kind: OIDCLogin
metadata: {name: login, namespace: istio-system}
spec:
  provider: oauth2-proxy
  issuer: https://issuer.test
  clientID: gatehouse
  clientSecret: {name: oidc-client, key: client-secret}
  scopes: [openid, email, groups]
  headers:
    userID: {name: kubeflow-userid, claim: email}
`,
}

// TestLoginAsCustomProvider: an OIDCLogin serving the extension provider a CUSTOM policy names
// runs where the policy matches, and only there; its session's id token then feeds
// RequestAuthentication and the ALLOW policy; its callback and logout are served though the
// policy excludes them; a verified bearer token skips it as the policy says.
func TestLoginAsCustomProvider(t *testing.T) {
	t.Parallel()
	iss := newTestIssuer(t)
	var hits atomic.Int64
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("X-Seen-User", r.Header.Get("Kubeflow-Userid"))
		_, _ = io.WriteString(w, "backend")
	}))
	t.Cleanup(app.Close)
	jwks, _ := json.Marshal(iss.JWKS)
	docs := append([]string{edgeGateway, staticEntry("app", "app.internal", port(t, app)), routeAllToApp, `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: istio-system}
spec:
  jwtRules:
  - issuer: https://issuer.test
    jwks: ` + string(jwks) + `
`, `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: admins, namespace: istio-system}
spec:
  action: ALLOW
  rules:
  - to: [{operation: {paths: ["/public/*", "/oauth2/*"]}}]
  - when: [{key: "request.auth.claims[groups]", values: [admins]}]
`}, kubeflowCustom...)
	s := newSecrets()
	s.put("oidc-client", "client-secret", []byte("s3cret"))
	ready := func(name string) bool { return name == "oauth2-proxy" }
	g := startAuthzGatewayWith(t, authz.Options{CustomProviderReady: ready}, s, docs)
	if g.selectedLogin() != nil || g.providerLogin("oauth2-proxy") == nil {
		t.Fatalf("login attached by selector %v, by provider %v; want only by provider", g.selectedLogin(), g.providerLogin("oauth2-proxy"))
	}

	admin := iss.token(t, map[string]any{"sub": "alice", "aud": "gatehouse", "email": "alice@example.com", "groups": []string{"admins"}})
	dev := iss.token(t, map[string]any{"sub": "bob", "aud": "gatehouse", "email": "bob@example.com", "groups": []string{"dev"}})
	signIn := func(token, email string) string {
		id := session.NewID()
		sess := &session.Session{Issuer: "https://issuer.test", Subject: "x", IDToken: token, Claims: map[string]any{"email": email}}
		if err := g.providerLogin("oauth2-proxy").sessions.store.Put(context.Background(), id, sess); err != nil {
			t.Fatal(err)
		}
		return "__Host-gatehouse-session=" + id
	}
	json401 := `{"error":"unauthenticated","message":"sign in or present a bearer token"}` + "\n"

	for _, tc := range []struct {
		name, path string
		headers    []string
		code       int
		body, user string // user: the kubeflow-userid the upstream saw
	}{
		{name: "path the policy excludes needs no session", path: "/public/x", code: 200, body: "backend"},
		{name: "api request without session", path: "/data", headers: []string{"Accept", "application/json"}, code: 401, body: json401},
		{name: "session in the allowed group", path: "/data", headers: []string{"Cookie", signIn(admin, "alice@example.com"), "Kubeflow-Userid", "mallory"},
			code: 200, body: "backend", user: "alice@example.com"},
		{name: "session outside the group", path: "/data", headers: []string{"Cookie", signIn(dev, "bob@example.com")}, code: 403, body: authz.ReasonDenied},
		{name: "bearer skips the login", path: "/data", headers: []string{"Authorization", "Bearer " + admin}, code: 200, body: "backend"},
		{name: "callback is the login's, not the upstream's", path: "/oauth2/callback?code=c&state=s", code: 400},
		{name: "logout is the login's", path: "/oauth2/sign_out", code: 302},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Not parallel: the backend's hit counter tells which requests reached it.
			before := hits.Load()
			res, body := rawGet(t, g.addr(t, 80), tc.path, tc.headers...)
			if res.StatusCode != tc.code || (tc.body != "" && body != tc.body) {
				t.Fatalf("%d %q, want %d %q", res.StatusCode, body, tc.code, tc.body)
			}
			if reached, want := hits.Load() > before, tc.body == "backend"; reached != want {
				t.Errorf("reached the upstream: %v, want %v", reached, want)
			}
			if got := res.Header.Get("X-Seen-User"); got != tc.user {
				t.Errorf("upstream kubeflow-userid %q, want %q (a client's own is removed)", got, tc.user)
			}
		})
	}
}
