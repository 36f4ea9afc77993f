package oidc

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/authz/oidc/session"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/test/peers/oidcpeer"
)

// rig is a Login in front of a tiny upstream that echoes the identity headers, served over
// HTTPS (Secure cookies), signing in against the real oidc-provider.
type rig struct {
	peer   *oidcpeer.Peer
	ts     *httptest.Server
	base   string
	store  *session.Memory
	client oidcpeer.Client
}

// echoed is what the upstream saw.
type echoed struct {
	User, Groups, Authorization, Cookie string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	oidcpeer.SkipIfMissing(t)
	ts := httptest.NewUnstartedServer(nil)
	base := "https://" + ts.Listener.Addr().String()
	client := oidcpeer.Client{ID: "gatehouse", Secret: "s3cret/with+odd=chars",
		RedirectURIs:           []string{base + policy.DefaultOIDCCallbackPath},
		PostLogoutRedirectURIs: []string{base + "/signed-out"}}
	peer := oidcpeer.Start(t, oidcpeer.Options{
		Clients: []oidcpeer.Client{client},
		Users:   []oidcpeer.User{{ID: "alice", Email: "alice@example.com", Groups: []string{"admins", "dev"}}},
	})
	spec := offlineSpec()
	spec.Issuer = peer.Issuer
	spec.Scopes = []string{"openid", "email", "profile", "groups", "offline_access"}
	spec.Prompt = "consent"
	spec.Logout.RedirectTo = "/signed-out"
	spec.Headers.UserID.Prefix = "accounts:"
	store := session.NewMemory(session.MemoryOptions{})
	l, err := New(Options{Name: "default/login", Spec: spec, ClientSecret: client.Secret, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := l.Handle(w, r)
		if out.Answered {
			return
		}
		out.Apply(r.Header)
		_ = json.NewEncoder(w).Encode(echoed{User: r.Header.Get("Kubeflow-Userid"), Groups: r.Header.Get("Kubeflow-Groups"),
			Authorization: r.Header.Get("Authorization"), Cookie: r.Header.Get("Cookie")})
	})
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return &rig{peer: peer, ts: ts, base: base, store: store, client: client}
}

func (g *rig) browser(t *testing.T) *http.Client {
	t.Helper()
	return oidcpeer.NewBrowser(t, g.ts.Client().Transport)
}

// navigate is a browser's top-level GET, with spoofed identity headers that must never arrive.
func (g *rig) navigate(t *testing.T, b *http.Client, target string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	req.Header.Set("Kubeflow-Userid", "admin@example.com")
	req.Header.Set("Kubeflow-Groups", "root")
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// startLogin GETs path and returns the provider URL it is sent to.
func (g *rig) startLogin(t *testing.T, b *http.Client, path string) string {
	t.Helper()
	resp := g.navigate(t, b, g.base+path)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, g.peer.Discovery.AuthorizationEndpoint+"?") {
		t.Fatalf("GET %s: %d to %q, want 302 to the provider", path, resp.StatusCode, loc)
	}
	return loc
}

// finish GETs the callback URL and returns where it sends the browser.
func (g *rig) finish(t *testing.T, b *http.Client, callback *url.URL) (int, string) {
	t.Helper()
	resp := g.navigate(t, b, callback.String())
	return resp.StatusCode, resp.Header.Get("Location")
}

// upstream GETs path with a session and returns what the upstream saw.
func (g *rig) upstream(t *testing.T, b *http.Client, path string) echoed {
	t.Helper()
	resp := g.navigate(t, b, g.base+path)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s, want 200 from the upstream", path, resp.StatusCode, resp.Header.Get("Location"))
	}
	var e echoed
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestLoginAgainstProvider follows the browser dance with a cookie jar: login, consent,
// callback, the upstream's headers, and logout through end_session_endpoint.
func TestLoginAgainstProvider(t *testing.T) {
	t.Parallel()
	g := newRig(t)
	b := g.browser(t)

	authorize := g.startLogin(t, b, "/app?x=1")
	q := must(url.Parse(authorize)).Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" ||
		q.Get("state") == "" || q.Get("prompt") != "consent" || q.Get("redirect_uri") != g.base+"/oauth2/callback" {
		t.Errorf("authorization request %v", q)
	}
	callback := g.peer.SignIn(t, b, authorize, "alice")
	resp := g.navigate(t, b, callback.String())
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != "/app?x=1" {
		t.Fatalf("callback: %d to %q, want 302 to /app?x=1", resp.StatusCode, loc)
	}
	var sessionCookie string
	for _, c := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, policy.DefaultOIDCCookieName+"=") {
			sessionCookie = c
		}
	}
	for _, attr := range []string{"Path=/", "HttpOnly", "Secure", "SameSite=Lax", "Max-Age=3600"} {
		if !strings.Contains(sessionCookie, attr) {
			t.Errorf("session cookie %q lacks %s", sessionCookie, attr)
		}
	}
	if strings.Contains(sessionCookie, "Domain=") {
		t.Errorf("__Host- session cookie %q has a Domain", sessionCookie)
	}

	e := g.upstream(t, b, "/app?x=1")
	if e.User != "accounts:alice@example.com" || e.Groups != "admins,dev" || !strings.HasPrefix(e.Authorization, "Bearer ey") {
		t.Errorf("upstream saw %+v", e)
	}
	if strings.Contains(e.Cookie, policy.DefaultOIDCCookieName) {
		t.Errorf("upstream saw our cookies: %q", e.Cookie)
	}

	t.Run("replayed state refused", func(t *testing.T) {
		if code, _ := g.finish(t, b, callback); code != http.StatusBadRequest {
			t.Errorf("replayed callback: %d, want 400", code)
		}
	})

	// The refresh token logout must revoke (offline_access was asked).
	var sid string
	for _, c := range b.Jar.Cookies(must(url.Parse(g.base))) {
		if c.Name == policy.DefaultOIDCCookieName {
			sid = c.Value
		}
	}
	s, err := g.store.Get(t.Context(), sid)
	if err != nil || s.RefreshToken == "" || s.Subject != "alice" || s.Issuer != g.peer.Issuer {
		t.Fatalf("session %q: %+v, %v; want alice's with a refresh token", sid, s, err)
	}

	// Logout: the session goes, the provider's end_session_endpoint confirms, and the browser
	// lands on logout.redirectTo; the next request signs in again.
	resp = g.navigate(t, b, g.base+"/oauth2/sign_out")
	end := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(end, g.peer.Discovery.EndSessionEndpoint+"?") ||
		!strings.Contains(end, "id_token_hint=") {
		t.Fatalf("logout: %d to %q, want 302 to end_session_endpoint with id_token_hint", resp.StatusCode, end)
	}
	if got := g.peer.ConfirmLogout(t, b, end); got != g.base+"/signed-out" {
		t.Errorf("provider logout ended at %q, want %s", got, g.base+"/signed-out")
	}
	if n := g.store.Stats().Sessions; n != 0 {
		t.Errorf("%d sessions after logout", n)
	}
	if status, tok := g.peer.Token(t, g.client, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.RefreshToken}}); status != http.StatusBadRequest || tok.Error != "invalid_grant" {
		t.Errorf("refresh after logout: %d %+v, want 400 invalid_grant (revoked)", status, tok)
	}
	g.startLogin(t, b, "/app")
}

// TestLoginTwoTabs signs in from two tabs of one browser whose logins are pending at once:
// each has its own state, both succeed and return to their own page.
func TestLoginTwoTabs(t *testing.T) {
	t.Parallel()
	g := newRig(t)
	b := g.browser(t)
	first := g.startLogin(t, b, "/one")
	second := g.startLogin(t, b, "/two")
	cb1 := g.peer.SignIn(t, b, first, "alice")
	cb2 := g.peer.SignIn(t, b, second, "alice")
	if code, loc := g.finish(t, b, cb2); code != http.StatusFound || loc != "/two" {
		t.Errorf("second tab's callback: %d to %q, want 302 to /two", code, loc)
	}
	if code, loc := g.finish(t, b, cb1); code != http.StatusFound || loc != "/one" {
		t.Errorf("first tab's callback: %d to %q, want 302 to /one", code, loc)
	}
	if e := g.upstream(t, b, "/one"); e.User != "accounts:alice@example.com" {
		t.Errorf("upstream saw %+v", e)
	}
}

// TestLoginForeignAndOpenRedirect: a callback taken to another browser is refused, and a
// scheme-relative original URL comes back as "/".
func TestLoginForeignAndOpenRedirect(t *testing.T) {
	t.Parallel()
	g := newRig(t)
	victim, attacker := g.browser(t), g.browser(t)
	cb := g.peer.SignIn(t, attacker, g.startLogin(t, attacker, "/x"), "alice")
	if code, _ := g.finish(t, victim, cb); code != http.StatusBadRequest {
		t.Errorf("callback in a foreign browser: %d, want 400", code)
	}

	cb = g.peer.SignIn(t, victim, g.startLogin(t, victim, "//evil.example/x"), "alice")
	if code, loc := g.finish(t, victim, cb); code != http.StatusFound || loc != "/" {
		t.Errorf("callback for //evil.example/x: %d to %q, want 302 to /", code, loc)
	}

	// An API request without a session gets 401 JSON, never the provider.
	req, _ := http.NewRequest(http.MethodGet, g.base+"/api", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := attacker.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusUnauthorized || body["error"] != "unauthenticated" {
		t.Errorf("API request: %d %v %v, want 401 JSON", resp.StatusCode, body, err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
