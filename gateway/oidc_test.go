package gateway

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/authz/oidc/session"
)

// loginDoc is an OIDCLogin in namespace ns selecting labels, issued by the test issuer.
func loginDoc(name, ns, labels string) string {
	return `apiVersion: gatehouse.dev/v1alpha1
kind: OIDCLogin
metadata: {name: ` + name + `, namespace: ` + ns + `}
spec:
  selector: {matchLabels: {` + labels + `}}
  issuer: https://issuer.test
  clientID: gatehouse
  clientSecret: {name: oidc-client, key: client-secret}
  scopes: [openid, email, groups]
  headers:
    userID: {name: kubeflow-userid, claim: email}
`
}

func TestSelectLogin(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		docs []string
		want string // namespace/name, "" for none
	}{
		{"none", nil, ""},
		{"gateway namespace", []string{loginDoc("a", "istio-system", "istio: ingressgateway")}, "istio-system/a"},
		{"labels do not match", []string{loginDoc("a", "istio-system", "istio: egressgateway")}, ""},
		{"other namespace", []string{loginDoc("a", "apps", "istio: ingressgateway")}, ""},
		{"oldest wins, ties by name", []string{loginDoc("b", "istio-system", "istio: ingressgateway"),
			loginDoc("a", "istio-system", "istio: ingressgateway")}, "istio-system/a"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			snap := snapshot(t, 1, append([]string{edgeGateway}, tt.docs...)...)
			got := ""
			if r := selectLogin(snap, CompileOptions{}.withDefaults()); r != nil {
				got = r.NamespacedName()
			}
			if got != tt.want {
				t.Errorf("selected %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHasBearer(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		values []string
		want   bool
	}{
		{nil, false},
		{[]string{"Basic YTpi"}, false},
		{[]string{"Bearer x"}, true},
		{[]string{"bearer x"}, true},
		{[]string{"Bearer "}, false},
		{[]string{"Basic YTpi", "Bearer x"}, true},
	} {
		if got := hasBearer(http.Header{"Authorization": tt.values}); got != tt.want {
			t.Errorf("hasBearer(%q) = %v, want %v", tt.values, got, tt.want)
		}
	}
}

// TestLoginReload: an unchanged login is kept; a change that leaves issuer, client and session
// settings alone keeps the sessions; a missing client secret fails closed.
func TestLoginReload(t *testing.T) {
	t.Parallel()
	s := newSecrets()
	s.put("oidc-client", "client-secret", []byte("s3cret\n"))
	g := newTestGateway(t, map[uint32]uint32{80: 0}, func(o *Options) { o.Credentials = s.store })
	apply := func(docs ...string) *loginGate {
		t.Helper()
		if err := g.Apply(snapshot(t, 1, append([]string{edgeGateway}, docs...)...)); err != nil {
			t.Fatal(err)
		}
		return g.selectedLogin()
	}
	doc := loginDoc("a", "istio-system", "istio: ingressgateway")
	first := apply(doc)
	if first == nil || first.broken != nil || first.secret != "s3cret" {
		t.Fatalf("first login: %+v", first)
	}
	if again := apply(doc); again != first {
		t.Error("an unchanged login was rebuilt")
	}
	changed := apply(strings.Replace(doc, "kubeflow-userid", "x-user", 1))
	if changed == first || changed.sessions != first.sessions {
		t.Errorf("a header change: rebuilt %v, same store %v; want a new login on the same store", changed != first, changed.sessions == first.sessions)
	}
	if other := apply(strings.Replace(doc, "clientID: gatehouse", "clientID: other", 1)); other.sessions == first.sessions {
		t.Error("a new client kept the old client's sessions")
	}
	s.store.ReplaceSource("test", nil) // the Secret is deleted
	if broken := apply(doc); broken.broken == nil || broken.login != nil {
		t.Errorf("missing secret: %+v, want broken", broken)
	}
	if none := apply(); none != nil {
		t.Errorf("login removed from config still in force: %+v", none)
	}
}

// TestLoginFollowsSecretData: a rotated client secret or session key changes a Secret's data
// only, which publishes no snapshot; the gateway rebuilds its logins from the last one, and
// fails closed when the Secret goes away.
func TestLoginFollowsSecretData(t *testing.T) {
	t.Parallel()
	s := newSecrets()
	s.put("oidc-client", "client-secret", []byte("one"))
	g := newTestGateway(t, map[uint32]uint32{80: 0}, func(o *Options) { o.Credentials = s.store })
	if err := g.Apply(snapshot(t, 1, edgeGateway, loginDoc("a", "istio-system", "istio: ingressgateway"))); err != nil {
		t.Fatal(err)
	}
	first := g.selectedLogin()
	s.put("oidc-client", "client-secret", []byte("two"))
	eventually(t, "the rotated client secret in force", func() bool { return g.selectedLogin().secret == "two" })
	if g.selectedLogin().sessions != first.sessions {
		t.Error("a rotated client secret signed everyone out (new session store)")
	}
	s.mu.Lock()
	delete(s.items, "istio-system/oidc-client")
	s.store.ReplaceSource("test", maps.Clone(s.items))
	s.mu.Unlock()
	eventually(t, "the login failing closed without its Secret", func() bool { return g.selectedLogin().broken != nil })
}

// TestLoginRequests drives the request path: the login runs before RequestAuthentication and
// AuthorizationPolicy, a bearer token that a RequestAuthentication verifies skips it, and a
// session's id token is what policies read claims from.
func TestLoginRequests(t *testing.T) {
	t.Parallel()
	iss := newTestIssuer(t)
	var hits atomic.Int64
	app := authzBackend(t, &hits)
	jwks, _ := json.Marshal(iss.JWKS)
	requestAuthn := `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: istio-system}
spec:
  jwtRules:
  - issuer: https://issuer.test
    jwks: ` + string(jwks) + `
`
	allowAdmins := `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: admins, namespace: istio-system}
spec:
  action: ALLOW
  rules: [{when: [{key: "request.auth.claims[groups]", values: [admins]}]}]
`
	base := []string{edgeGateway, staticEntry("app", "app.internal", port(t, app)), routeAllToApp,
		loginDoc("login", "istio-system", "istio: ingressgateway")}
	s := newSecrets()
	s.put("oidc-client", "client-secret", []byte("s3cret"))
	withRA := startAuthzGatewayWith(t, authz.Options{}, s, append(base, requestAuthn, allowAdmins))
	noRA := startAuthzGatewayWith(t, authz.Options{}, s, base)
	broken := startAuthzGatewayWith(t, authz.Options{}, newSecrets(), base)

	admin := iss.token(t, map[string]any{"sub": "alice", "aud": "gatehouse", "email": "alice@example.com", "groups": []string{"admins"}})
	dev := iss.token(t, map[string]any{"sub": "bob", "aud": "gatehouse", "email": "bob@example.com", "groups": []string{"dev"}})
	signIn := func(g *testGateway, token, email string) string {
		id := session.NewID()
		sess := &session.Session{Issuer: "https://issuer.test", Subject: "x", IDToken: token,
			Claims: map[string]any{"email": email}}
		if err := g.selectedLogin().sessions.store.Put(context.Background(), id, sess); err != nil {
			t.Fatal(err)
		}
		return "__Host-gatehouse-session=" + id
	}
	aliceCookie, bobCookie := signIn(withRA, admin, "alice@example.com"), signIn(withRA, dev, "bob@example.com")
	json401 := `{"error":"unauthenticated","message":"sign in or present a bearer token"}` + "\n"

	for _, tc := range []struct {
		name     string
		g        *testGateway
		headers  []string
		code     int
		body     string
		upstream bool
	}{
		{name: "api without session", g: withRA, headers: []string{"Accept", "application/json"}, code: 401, body: json401},
		{name: "session in the allowed group", g: withRA, headers: []string{"Cookie", aliceCookie, "Kubeflow-Userid", "mallory@example.com"}, code: 200, body: "backend", upstream: true},
		{name: "session outside the group", g: withRA, headers: []string{"Cookie", bobCookie}, code: 403, body: authz.ReasonDenied},
		{name: "verified bearer skips the login", g: withRA, headers: []string{"Authorization", "Bearer " + admin}, code: 200, body: "backend", upstream: true},
		{name: "invalid bearer gets jwt_authn's 401", g: withRA, headers: []string{"Authorization", "Bearer " + admin[:len(admin)-4] + "AAAA"}, code: 401, body: "Jwt verification fails"},
		{name: "unverified bearer does not skip the login", g: noRA, headers: []string{"Authorization", "Bearer " + admin}, code: 401, body: json401},
		{name: "missing client secret fails closed", g: broken, code: 503, body: "sign-in unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Not parallel: the backend's hit counter tells which requests reached it.
			before := hits.Load()
			res, body := rawGet(t, tc.g.addr(t, 80), "/data", tc.headers...)
			if res.StatusCode != tc.code || body != tc.body {
				t.Fatalf("%d %q, want %d %q", res.StatusCode, body, tc.code, tc.body)
			}
			if reached := hits.Load() > before; reached != tc.upstream {
				t.Errorf("reached the upstream: %v, want %v", reached, tc.upstream)
			}
			if tc.upstream && strings.Contains(tc.name, "session") {
				// The token fed the check only; RequestAuthentication removes a forwarded one.
				if got := res.Header.Get("X-Seen-Authorization"); got != "" {
					t.Errorf("upstream saw Authorization %q", got)
				}
			}
		})
	}
}
