package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/test/peers/oidcpeer"
)

// TestOIDCTwoReplicas runs two gatehouse processes on one real Redis (issue 7, "Two replicas"):
// a browser signs in through replica A, uses replica B with the same cookie, and after its
// tokens expired sends concurrent requests to both. The provider rotates refresh tokens and
// revokes the grant when one is redeemed twice, so all of them succeeding shows the refresh ran
// once across the replicas. Both replicas are https://localhost on different ports: cookies
// ignore the port, so one cookie jar sends the session to both, as to replicas behind one name.
func TestOIDCTwoReplicas(t *testing.T) {
	t.Parallel()
	if _, err := oidcpeer.Installed(); err != nil {
		t.Fatal(err)
	}
	const tokenTTL = 4 * time.Second
	redisAddr := startRedis(t)
	gwCA := newCA(t, "oidc-replicas-ca")
	gwCert := gwCA.issue(t, leafOpts{dns: []string{"localhost"}})
	providerPort := freePort(t)
	issuer := fmt.Sprintf("http://127.0.0.1:%d", providerPort)
	// The keys Secret layout: every data key is one AES-256 key, here in base64.
	sessionKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))

	dir := t.TempDir()
	writeFile(t, dir, "secrets.yaml", docs(secretYAML("gw-cert", "tls", gwCert.cert, gwCert.key, ""),
		"apiVersion: v1\nkind: Secret\nmetadata: {name: oidc-client, namespace: istio-system}\nstringData:\n  client-secret: replicas-secret\n",
		"apiVersion: v1\nkind: Secret\nmetadata: {name: session-keys, namespace: istio-system}\nstringData:\n  \"2025-01\": "+sessionKey+"\n"))
	writeFile(t, dir, "edge.yaml", docs(httpsEdge(t),
		`apiVersion: gatehouse.dev/v1alpha1
kind: OIDCLogin
metadata: {name: login, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  issuer: `+issuer+`
  clientID: gatehouse
  clientSecret: {name: oidc-client, key: client-secret}
  scopes: [openid, email, offline_access]
  headers:
    userID: {name: kubeflow-userid, claim: email}
    idToken: true
  session:
    store: redis
    redis: {address: "`+redisAddr+`", keys: {name: session-keys}}
`))
	portA, portB := freePort(t), freePort(t)
	siteA, siteB := fmt.Sprintf("https://localhost:%d", portA), fmt.Sprintf("https://localhost:%d", portB)
	peer := oidcpeer.Start(t, oidcpeer.Options{
		Port: providerPort, AccessTokenTTL: tokenTTL, IDTokenTTL: tokenTTL,
		Clients: []oidcpeer.Client{{ID: "gatehouse", Secret: "replicas-secret",
			RedirectURIs: []string{siteA + "/oauth2/callback", siteB + "/oauth2/callback"}}},
		Users: []oidcpeer.User{{ID: "alice", Email: "alice@example.com"}},
	})
	runPorts(t, dir, []int{443}, "--port-map", fmt.Sprintf("443=%d", portA))
	runPorts(t, dir, []int{443}, "--port-map", fmt.Sprintf("443=%d", portB))

	roots := x509.NewCertPool()
	roots.AddCert(gwCA.cert)
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	t.Cleanup(transport.CloseIdleConnections)
	browser := oidcpeer.NewBrowser(t, transport)
	// get returns the status, the upstream's user header and bearer token, and the body.
	type result struct {
		status        int
		user, idToken string
		body          string
	}
	get := func(target string) (result, error) {
		req, err := http.NewRequest(http.MethodGet, target, nil)
		if err != nil {
			return result{}, err
		}
		req.Header.Set("Accept", "text/html")
		resp, err := browser.Do(req)
		if err != nil {
			return result{}, err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		r := result{status: resp.StatusCode, body: string(body)}
		if r.status == http.StatusOK {
			var echoed struct {
				Headers map[string]any `json:"headers"`
			}
			if err := json.Unmarshal(body, &echoed); err != nil {
				return r, fmt.Errorf("backend echo %q: %w", body, err)
			}
			r.user = fmt.Sprint(echoed.Headers["Kubeflow-Userid"])
			r.idToken = strings.TrimPrefix(fmt.Sprint(echoed.Headers["Authorization"]), "Bearer ")
		}
		return r, nil
	}

	// Sign in through replica A.
	resp, err := browser.Do(mustGet(t, siteA+"/headers"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, peer.Discovery.AuthorizationEndpoint+"?") {
		t.Fatalf("first GET at A: %d to %q, want 302 to the provider", resp.StatusCode, loc)
	}
	cb := peer.SignIn(t, browser, loc, "alice")
	if !strings.HasPrefix(cb.String(), siteA+"/oauth2/callback?") {
		t.Fatalf("sign-in ended at %s, want A's callback", cb)
	}
	resp, err = browser.Get(cb.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if back, _ := url.Parse(resp.Header.Get("Location")); resp.StatusCode != http.StatusFound || back == nil || back.Path != "/headers" {
		t.Fatalf("callback at A: %d to %q, want 302 back to /headers", resp.StatusCode, resp.Header.Get("Location"))
	}

	// The session is in Redis: replica B, which never saw the sign-in, serves it.
	atB, err := get(siteB + "/headers")
	if err != nil {
		t.Fatal(err)
	}
	if atB.status != http.StatusOK || atB.user != "alice@example.com" {
		t.Fatalf("at B after signing in at A: %d user %q (%s), want 200 alice@example.com", atB.status, atB.user, atB.body)
	}
	if exp, ok := jwtClaims(t, atB.idToken)["exp"].(float64); !ok || time.Until(time.Unix(int64(exp), 0)) > tokenTTL+time.Second {
		t.Fatalf("id token exp %v: the provider's short TTL was not applied", jwtClaims(t, atB.idToken)["exp"])
	}

	// Let the tokens expire: the point of the test is the refresh that comes after.
	time.Sleep(tokenTTL + time.Second)
	const n = 8
	results := make([]result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		site := siteA
		if i%2 == 1 {
			site = siteB
		}
		wg.Go(func() { results[i], errs[i] = get(site + "/headers") })
	}
	wg.Wait()
	for i, r := range results {
		if errs[i] != nil {
			t.Errorf("request %d: %v", i, errs[i])
			continue
		}
		if r.status != http.StatusOK || r.user != "alice@example.com" {
			t.Errorf("request %d after expiry (replica %c): %d user %q (%s), want 200 alice@example.com", i, "AB"[i%2], r.status, r.user, r.body)
			continue
		}
		if r.idToken == atB.idToken {
			t.Errorf("request %d after expiry got the expired id token: no refresh ran", i)
		}
	}
	// The refreshed session goes on working at both replicas: the grant was not revoked.
	for _, site := range []string{siteA, siteB} {
		if r, err := get(site + "/headers"); err != nil || r.status != http.StatusOK {
			t.Errorf("%s after the refresh: %d %v (%s), want 200", site, r.status, err, r.body)
		}
	}
}

// mustGet is a top-level navigation to target.
func mustGet(t *testing.T, target string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	return req
}
