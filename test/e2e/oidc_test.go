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

// TestOIDCLogin follows a browser through the OIDC login at an HTTPS gateway (issue 7), against
// the real oidc-provider. The provider is http://127.0.0.1 and the gateway https://localhost, so
// their cookies never meet, as a real deployment's hosts differ.
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

func TestOIDCLogin(t *testing.T) {
	t.Parallel()
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
	writeFile(t, dir, "edge.yaml", docs(httpsEdge(t),
		`apiVersion: gatehouse.dev/v1alpha1
kind: OIDCLogin
metadata: {name: login, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  issuer: `+issuer+`
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
  jwtRules: [{issuer: "`+issuer+`", audiences: [gatehouse]}]
`, `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: admins-only, namespace: istio-system}
spec:
  action: ALLOW
  rules: [{when: [{key: "request.auth.claims[groups]", values: [admins]}]}]
`))
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
	do := func(c *http.Client, target string, header ...string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, target, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	navigate := []string{"Accept", "text/html", "Kubeflow-Userid", "mallory@example.com"}
	// signIn runs the whole dance for login in a fresh browser and returns it.
	signIn := func(login string) *http.Client {
		t.Helper()
		browser := oidcpeer.NewBrowser(t, transport)
		resp, _ := do(browser, site+"/headers?x=1", navigate...)
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, peer.Discovery.AuthorizationEndpoint+"?") {
			t.Fatalf("first GET: %d to %q, want 302 to the provider", resp.StatusCode, loc)
		}
		cb := peer.SignIn(t, browser, loc, login)
		if !strings.HasPrefix(cb.String(), site+"/oauth2/callback?") {
			t.Fatalf("sign-in ended at %s, want our callback", cb)
		}
		resp, body := do(browser, cb.String())
		back, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || back == nil || back.RequestURI() != "/headers?x=1" {
			t.Fatalf("callback: %d to %q (%s), want 302 back to /headers?x=1", resp.StatusCode, resp.Header.Get("Location"), body)
		}
		return browser
	}

	alice := signIn("alice")
	resp, body := do(alice, site+"/headers?x=1", navigate...)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("original URL after sign-in: %d %s", resp.StatusCode, body)
	}
	var echoed struct {
		Headers map[string]any `json:"headers"`
	}
	if err := json.Unmarshal([]byte(body), &echoed); err != nil {
		t.Fatalf("backend echo %q: %v", body, err)
	}
	if got := fmt.Sprint(echoed.Headers["Kubeflow-Userid"]); got != "alice@example.com" {
		t.Errorf("upstream kubeflow-userid %q, want alice@example.com (the client's spoofed one removed)", got)
	}
	if got := fmt.Sprint(echoed.Headers["Kubeflow-Groups"]); got != "admins,dev" {
		t.Errorf("upstream kubeflow-groups %q, want admins,dev", got)
	}
	if _, ok := echoed.Headers["Authorization"]; ok {
		t.Errorf("upstream got the id token though headers.idToken is off: %v", echoed.Headers)
	}

	t.Run("api without session", func(t *testing.T) {
		resp, body := do(oidcpeer.NewBrowser(t, transport), site+"/headers", "Accept", "application/json")
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%d %s %q, want 401 JSON", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	})
	t.Run("group not allowed", func(t *testing.T) {
		resp, body := do(signIn("bob"), site+"/headers", navigate...)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("bob (not in admins): %d %q, want 403", resp.StatusCode, body)
		}
	})
	t.Run("logout", func(t *testing.T) {
		resp, _ := do(alice, site+"/oauth2/sign_out")
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("logout: %d, want 302", resp.StatusCode)
		}
		resp, _ = do(alice, site+"/headers", navigate...)
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, peer.Discovery.AuthorizationEndpoint+"?") {
			t.Errorf("after logout: %d to %q, want 302 to the provider", resp.StatusCode, loc)
		}
	})
}
