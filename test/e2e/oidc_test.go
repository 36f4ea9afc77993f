package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/test/peers/oidcpeer"
)

// httpsEdge is the sign-in tests' edge: HTTPS on 443 with the Secret gw-cert for every host,
// routed to a demo backend (Secure cookies are only sent over HTTPS).
func httpsEdge(t *testing.T) string {
	t.Helper()
	return docs(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: SIMPLE, credentialName: gw-cert}
`, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  http: [{route: [{destination: {host: backend.internal}}]}]
`, staticEntry("backend", "istio-system", "backend.internal", 80, "HTTP", backend(t, "app")))
}

// signInEdge is gatehouse serving httpsEdge at https://localhost with an OIDC login in front,
// against the real oidc-provider at http://127.0.0.1: their cookies never meet, as a real
// deployment's hosts differ. Users alice (groups admins, dev) and bob (dev) can sign in.
type signInEdge struct {
	t         *testing.T
	site      string
	peer      *oidcpeer.Peer
	transport *http.Transport
}

// navigate are a browser's top-level navigation headers, with a user-id header the client made
// up, which must never reach the upstream.
var navigate = []string{"Accept", "text/html", "Kubeflow-Userid", "mallory@example.com"}

// startSignInEdge writes httpsEdge, its Secrets (gw-cert, oidc-client) and what config returns
// for the provider's issuer URL, and starts the provider, then gatehouse.
func startSignInEdge(t *testing.T, config func(issuer string) []string) *signInEdge {
	t.Helper()
	if _, err := oidcpeer.Installed(); err != nil {
		t.Fatal(err)
	}
	gwCA := newCA(t, "oidc-gw-ca")
	gwCert := gwCA.issue(t, leafOpts{dns: []string{"localhost"}})
	providerPort := freePort(t)
	issuer := fmt.Sprintf("http://127.0.0.1:%d", providerPort)

	dir := t.TempDir()
	writeFile(t, dir, "secrets.yaml", docs(secretYAML("gw-cert", "tls", gwCert.cert, gwCert.key, ""),
		"apiVersion: v1\nkind: Secret\nmetadata: {name: oidc-client, namespace: istio-system}\nstringData:\n  client-secret: s3cret/with+odd=chars\n"))
	writeFile(t, dir, "edge.yaml", docs(append([]string{httpsEdge(t)}, config(issuer)...)...))
	// The provider is up before gatehouse starts, so RequestAuthentication's discovery of its
	// keys succeeds at once; the gateway's port is chosen here for the registered redirect URI.
	gwPort := freePort(t)
	site := fmt.Sprintf("https://localhost:%d", gwPort)
	peer := oidcpeer.Start(t, oidcpeer.Options{
		Port: providerPort,
		Clients: []oidcpeer.Client{{ID: "gatehouse", Secret: "s3cret/with+odd=chars",
			RedirectURIs: []string{site + "/oauth2/callback"}, PostLogoutRedirectURIs: []string{site + "/"}}},
		Users: []oidcpeer.User{
			{ID: "alice", Email: "alice@example.com", Groups: []string{"admins", "dev"}},
			{ID: "bob", Email: "bob@example.com", Groups: []string{"dev"}},
		},
	})
	// The last --port-map wins over the one runPorts picks.
	runPorts(t, dir, []int{443}, "--port-map", fmt.Sprintf("443=%d", gwPort))

	roots := x509.NewCertPool()
	roots.AddCert(gwCA.cert)
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	t.Cleanup(transport.CloseIdleConnections)
	return &signInEdge{t: t, site: site, peer: peer, transport: transport}
}

// browser is a fresh browser: its own cookie jar, redirects not followed.
func (e *signInEdge) browser() *http.Client { return oidcpeer.NewBrowser(e.t, e.transport) }

// get sends a GET with header name/value pairs and returns the response and its body.
func (e *signInEdge) get(c *http.Client, target string, header ...string) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// startLogin navigates to path and returns where the gateway sent the browser: the provider.
func (e *signInEdge) startLogin(c *http.Client, path string) string {
	e.t.Helper()
	resp, _ := e.get(c, e.site+path, navigate...)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, e.peer.Discovery.AuthorizationEndpoint+"?") {
		e.t.Fatalf("GET %s: %d to %q, want 302 to the provider", path, resp.StatusCode, loc)
	}
	return loc
}

// signInAt has the provider sign login in for an authorization request and returns the
// callback it sends the browser to, not yet followed.
func (e *signInEdge) signInAt(c *http.Client, authorize, login string) *url.URL {
	e.t.Helper()
	cb := e.peer.SignIn(e.t, c, authorize, login)
	if !strings.HasPrefix(cb.String(), e.site+"/oauth2/callback?") {
		e.t.Fatalf("sign-in ended at %s, want our callback", cb)
	}
	return cb
}

// finish follows a callback and returns its status and the path it sends the browser back to.
func (e *signInEdge) finish(c *http.Client, cb *url.URL) (int, string) {
	e.t.Helper()
	resp, _ := e.get(c, cb.String())
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return resp.StatusCode, ""
	}
	return resp.StatusCode, back.RequestURI()
}

// signIn runs the whole dance for login in a fresh browser, from /headers?x=1, and returns it.
func (e *signInEdge) signIn(login string) *http.Client {
	e.t.Helper()
	b := e.browser()
	cb := e.signInAt(b, e.startLogin(b, "/headers?x=1"), login)
	if code, back := e.finish(b, cb); code != http.StatusFound || back != "/headers?x=1" {
		e.t.Fatalf("callback: %d to %q, want 302 back to /headers?x=1", code, back)
	}
	return b
}

// upstreamHeaders GETs path as a signed-in browser and returns the headers the backend saw.
func (e *signInEdge) upstreamHeaders(c *http.Client, path string) map[string]any {
	e.t.Helper()
	resp, body := e.get(c, e.site+path, navigate...)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET %s signed in: %d %s", path, resp.StatusCode, body)
	}
	var echoed struct {
		Headers map[string]any `json:"headers"`
	}
	if err := json.Unmarshal([]byte(body), &echoed); err != nil {
		e.t.Fatalf("backend echo %q: %v", body, err)
	}
	return echoed.Headers
}

// TestOIDCLogin follows a browser through the OIDC login at an HTTPS gateway (issue 7), attached
// by selector, against the real oidc-provider.
func TestOIDCLogin(t *testing.T) {
	t.Parallel()
	e := startSignInEdge(t, func(issuer string) []string {
		return []string{`apiVersion: gatehouse.dev/v1alpha1
kind: OIDCLogin
metadata: {name: login, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  issuer: ` + issuer + `
  clientID: gatehouse
  clientSecret: {name: oidc-client, key: client-secret}
  scopes: [openid, email, profile, groups]
  headers:
    userID: {name: kubeflow-userid, claim: email}
    groups: {name: kubeflow-groups}
`, `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: provider, namespace: istio-system}
spec:
  jwtRules: [{issuer: "` + issuer + `", audiences: [gatehouse]}]
`, `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: admins-only, namespace: istio-system}
spec:
  action: ALLOW
  rules: [{when: [{key: "request.auth.claims[groups]", values: [admins]}]}]
`}
	})

	alice := e.signIn("alice")
	seen := e.upstreamHeaders(alice, "/headers?x=1")
	if got := fmt.Sprint(seen["Kubeflow-Userid"]); got != "alice@example.com" {
		t.Errorf("upstream kubeflow-userid %q, want alice@example.com (the client's spoofed one removed)", got)
	}
	if got := fmt.Sprint(seen["Kubeflow-Groups"]); got != "admins,dev" {
		t.Errorf("upstream kubeflow-groups %q, want admins,dev", got)
	}
	if _, ok := seen["Authorization"]; ok {
		t.Errorf("upstream got the id token though headers.idToken is off: %v", seen)
	}

	t.Run("api without session", func(t *testing.T) {
		resp, body := e.get(e.browser(), e.site+"/headers", "Accept", "application/json")
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%d %s %q, want 401 JSON", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	})
	t.Run("group not allowed", func(t *testing.T) {
		resp, body := e.get(e.signIn("bob"), e.site+"/headers", navigate...)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("bob (not in admins): %d %q, want 403", resp.StatusCode, body)
		}
	})
	t.Run("logout", func(t *testing.T) {
		resp, _ := e.get(alice, e.site+"/oauth2/sign_out")
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("logout: %d, want 302", resp.StatusCode)
		}
		e.startLogin(alice, "/headers")
	})
}
