package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/test/helm"
	"github.com/gatehouse-dev/gatehouse/test/peers/kubepeer"
	"github.com/gatehouse-dev/gatehouse/test/peers/oidcpeer"
)

// TestReplicasFailover runs two `gatehouse run --kubeconfig` replicas watching one real API
// server and sharing OIDC sessions in one real Redis, behind a real nginx load balancer (issue
// 12, "Replicas"), while a signed-in user's load goes through nginx:
//   - SIGTERM on one replica fails no request: it fails readiness, lets in-flight requests
//     finish and exits cleanly, and nginx sends the rest to the other replica;
//   - after that replica came back, `kill -9` of the other loses no session: the user stays
//     signed in through the survivor, which also refreshes the user's tokens when they expire.
//
// The figures (requests served during the kill, errors, time to recover) are logged.
func TestReplicasFailover(t *testing.T) {
	t.Parallel()
	if _, err := oidcpeer.Installed(); err != nil {
		t.Fatal(err)
	}
	// Short token lifetimes so that a refresh falls due while one replica is dead.
	const tokenTTL = 5 * time.Second
	const workers = 4
	k := startKube(t)
	applyGatehouseCRD(t, k, "gatehouse.dev_oidclogins.yaml")
	redisAddr := startRedis(t)

	gwCA := newCA(t, "replicas-ca")
	// One certificate for localhost serves on nginx (the users' side) and on the replicas (what
	// nginx verifies), as a load balancer re-encrypting to its backends with the same name would.
	gwCert := gwCA.issue(t, leafOpts{dns: []string{"localhost"}})
	providerPort := freePort(t)
	issuer := fmt.Sprintf("http://127.0.0.1:%d", providerPort)
	sessionKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))

	kubeApply(t, k, docs(secretYAML("gw-cert", "tls", gwCert.cert, gwCert.key, ""),
		"apiVersion: v1\nkind: Secret\nmetadata: {name: oidc-client, namespace: istio-system}\nstringData:\n  client-secret: failover-secret\n",
		"apiVersion: v1\nkind: Secret\nmetadata: {name: session-keys, namespace: istio-system}\nstringData:\n  \"2025-01\": "+sessionKey+"\n",
		httpsEdge(t), `apiVersion: gatehouse.dev/v1alpha1
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
	replica := func(port int) *gatehouse {
		// The last --port-map wins over the one runPorts picks: a replica restarted on its port
		// is the same backend to nginx.
		return runPorts(t, "", []int{443}, "--config", "", "--kubeconfig", k.Kubeconfig, "--port-map", fmt.Sprintf("443=%d", port))
	}
	// nginx first: the redirect URI the provider registers names its port, and the provider is
	// up before the replicas read the OIDCLogin.
	lbPort := nginxLB(t, gwCert, "localhost", gwCA.file, portA, portB)
	site := fmt.Sprintf("https://localhost:%d", lbPort)
	peer := oidcpeer.Start(t, oidcpeer.Options{
		Port: providerPort, AccessTokenTTL: tokenTTL, IDTokenTTL: tokenTTL,
		Clients: []oidcpeer.Client{{ID: "gatehouse", Secret: "failover-secret",
			RedirectURIs: []string{site + "/oauth2/callback"}}},
		Users: []oidcpeer.User{{ID: "alice", Email: "alice@example.com"}},
	})
	a, b := replica(portA), replica(portB)

	roots := x509.NewCertPool()
	roots.AddCert(gwCA.cert)
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, MaxIdleConnsPerHost: workers}
	t.Cleanup(transport.CloseIdleConnections)
	browser := oidcpeer.NewBrowser(t, transport)
	waitLoginServed(t, browser, site, peer.Discovery.AuthorizationEndpoint)
	signInThrough(t, browser, site, peer, "alice")
	const user = "alice@example.com"

	t.Run("SIGTERM under load", func(t *testing.T) {
		l := startLoad(t, browser, site+"/headers", user, workers)
		l.waitUntil(t, "40 requests served before the SIGTERM", 30*time.Second, func(s []sample) bool { return servedAfter(s, time.Time{}) >= 40 })
		termAt := time.Now()
		if err := a.stop(); err != nil {
			t.Errorf("replica A after SIGTERM: %v (want a clean exit after draining)", err)
		}
		exitedAt := time.Now()
		l.waitUntil(t, "40 requests served after replica A exited", 30*time.Second, func(s []sample) bool { return servedAfter(s, exitedAt) >= 40 })
		samples := l.finish()
		t.Logf("drain figures: %d requests in all; SIGTERM to exit %s; since the SIGTERM: %s",
			len(samples), exitedAt.Sub(termAt).Round(time.Millisecond), summarize(samples, termAt))
		for _, s := range samples {
			if s.outcome != served {
				t.Errorf("request at %s (%s after the SIGTERM) was not served: %s", s.start.Format("15:04:05.000"), s.start.Sub(termAt).Round(time.Millisecond), s.detail)
			}
		}
	})
	if t.Failed() {
		return
	}

	// A rolling update brings replica A back on its port; the new process serves the session
	// it never saw, from Redis.
	a = replica(portA)
	if s := loadRequest(browser, fmt.Sprintf("https://localhost:%d/headers", portA), user); s.outcome != served {
		t.Fatalf("the restarted replica A, directly: %s", s.detail)
	}
	servedByA := requestsServed(t, a)

	t.Run("kill -9 under load", func(t *testing.T) {
		l := startLoad(t, browser, site+"/headers", user, workers)
		l.waitUntil(t, "40 requests served before the kill", 30*time.Second, func(s []sample) bool { return servedAfter(s, time.Time{}) >= 40 })
		// As a rolling update waits for the new pod's endpoint before stopping the next, wait
		// until nginx has replica A back in rotation: it disables a replica for fail_timeout
		// after each refused connection, and with both disabled it answers 502 itself.
		deadline := time.Now().Add(30 * time.Second)
		for requestsServed(t, a) < servedByA+20 {
			if time.Now().After(deadline) {
				t.Fatalf("nginx sent replica A no traffic after its restart (%s)", summarize(l.snapshot(), time.Time{}))
			}
			time.Sleep(50 * time.Millisecond)
		}
		before := lastServed(l.snapshot())
		killAt := time.Now()
		if err := b.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = b.cmd.Wait()
		// Run on until the survivor refreshed the tokens (a new id token reached the backend)
		// and served a good number more.
		l.waitUntil(t, "a token refresh after the kill", 3*tokenTTL+20*time.Second, func(s []sample) bool {
			for _, x := range s {
				if x.outcome == served && x.start.After(killAt) && x.idToken != before.idToken {
					return true
				}
			}
			return false
		})
		l.waitUntil(t, "40 requests served after the kill", 30*time.Second, func(s []sample) bool { return servedAfter(s, killAt) >= 40 })
		samples := l.finish()

		recovered, refreshed := time.Duration(-1), time.Duration(-1)
		var failures int
		for _, s := range samples {
			if s.start.Before(killAt) && s.end.Before(killAt) {
				continue
			}
			switch s.outcome {
			case sessionLost:
				t.Errorf("session lost at %s (%s after the kill): %s", s.start.Format("15:04:05.000"), s.start.Sub(killAt).Round(time.Millisecond), s.detail)
			case failed:
				failures++
				t.Logf("failed at %s (%s after the kill): %s", s.start.Format("15:04:05.000"), s.start.Sub(killAt).Round(time.Millisecond), s.detail)
			case served:
				if d := s.end.Sub(killAt); !s.start.Before(killAt) && (recovered < 0 || d < recovered) {
					recovered = d
				}
				if d := s.end.Sub(killAt); s.start.After(killAt) && s.idToken != before.idToken && (refreshed < 0 || d < refreshed) {
					refreshed = d
				}
			}
		}
		t.Logf("kill -9 figures: %d requests in all; during and after the kill: %s; %d errors; time to recover (kill to the first success of a request sent after it): %s; first refreshed id token %s after the kill",
			len(samples), summarize(samples, killAt), failures, recovered.Round(time.Millisecond), refreshed.Round(time.Millisecond))
	})
}

// requestsServed is the number of HTTP requests g's gateway answered, from its istio_requests_total.
func requestsServed(t *testing.T, g *gatehouse) float64 {
	t.Helper()
	body, code := curl(t, fmt.Sprintf("http://127.0.0.1:%d/stats/prometheus", g.stats))
	if code != http.StatusOK {
		t.Fatalf("stats: %d", code)
	}
	var total float64
	for line := range strings.Lines(body) {
		if !strings.HasPrefix(line, "istio_requests_total") {
			continue
		}
		fields := strings.Fields(line)
		if v, err := strconv.ParseFloat(fields[len(fields)-1], 64); err == nil {
			total += v
		}
	}
	return total
}

// lastServed is the last served sample, by end time.
func lastServed(samples []sample) sample {
	var last sample
	for _, s := range samples {
		if s.outcome == served && s.end.After(last.end) {
			last = s
		}
	}
	return last
}

// applyGatehouseCRD applies one of the chart's Gatehouse CRDs (deploy/helm/gatehouse/crds) and
// waits until the API server serves its kind.
func applyGatehouseCRD(t *testing.T, k *kubepeer.Peer, file string) {
	t.Helper()
	path := filepath.Join(helm.ChartDir(), "crds", file)
	if out, err := k.Kubectl(t, "apply", "-f", path); err != nil {
		t.Fatalf("kubectl apply -f %s: %v\n%s", path, err, out)
	}
	if out, err := k.Kubectl(t, "wait", "--for=condition=Established", "--timeout=60s", "-f", path); err != nil {
		t.Fatalf("kubectl wait for %s: %v\n%s", path, err, out)
	}
}

// waitLoginServed polls site until the gateway answers a navigation with the redirect to the
// provider: the replicas have read the config from the API server and nginx reaches them.
func waitLoginServed(t *testing.T, c *http.Client, site, authorize string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := c.Do(mustGet(t, site+"/headers"))
		var got string
		if err == nil {
			resp.Body.Close()
			got = fmt.Sprintf("%d to %q", resp.StatusCode, resp.Header.Get("Location"))
			if resp.StatusCode == http.StatusFound && strings.HasPrefix(resp.Header.Get("Location"), authorize+"?") {
				return
			}
		} else {
			got = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s/headers through nginx: %s, want 302 to the provider", site, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// signInThrough signs login in through site from /headers and follows the callback.
func signInThrough(t *testing.T, c *http.Client, site string, peer *oidcpeer.Peer, login string) {
	t.Helper()
	resp, err := c.Do(mustGet(t, site+"/headers"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb := peer.SignIn(t, c, resp.Header.Get("Location"), login)
	if !strings.HasPrefix(cb.String(), site+"/oauth2/callback?") {
		t.Fatalf("sign-in ended at %s, want the callback through nginx", cb)
	}
	resp, err = c.Get(cb.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if back, _ := url.Parse(resp.Header.Get("Location")); resp.StatusCode != http.StatusFound || back == nil || back.Path != "/headers" {
		t.Fatalf("callback through nginx: %d to %q, want 302 back to /headers", resp.StatusCode, resp.Header.Get("Location"))
	}
}
