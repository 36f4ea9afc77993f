package e2e

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

const policyGateway = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["%s"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: route, namespace: istio-system}
spec:
  hosts: ["%[1]s"]
  gateways: [edge]
  http: [{route: [{destination: {host: %[1]s}}]}]
`

// testPort is an httptest server's port.
func httptestPort(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

// policyGet sends GET / with host through the gateway and returns the status and body.
func policyGet(t *testing.T, client *http.Client, g *gatehouse, host string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.url("/"), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body), res.Header
}

// TestOutlierEjection: of a demo backend and an endpoint that always answers 500, the failing
// one is ejected after consecutive5xxErrors and then gets no traffic.
func TestOutlierEjection(t *testing.T) {
	t.Parallel()
	good := backend(t, "good")
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(bad.Close)
	dir := t.TempDir()
	writeFile(t, dir, "gateway.yaml", fmt.Sprintf(policyGateway, "pair.example.com"))
	writeFile(t, dir, "service.yaml", fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: pair, namespace: istio-system}
spec:
  hosts: [pair.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
  - {address: 127.0.0.1, ports: {http: %d}}
  - {address: 127.0.0.1, ports: {http: %s}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: pair, namespace: istio-system}
spec:
  host: pair.example.com
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 1h}
`, good, httptestPort(t, bad)))
	g := run(t, dir, 80)
	client := &http.Client{Timeout: 10 * time.Second}
	// Round robin alternates until the failing endpoint has answered 500 three times in a row
	// of its own; then 20 requests in a row must all reach the good one.
	ok := 0
	deadline := time.Now().Add(30 * time.Second)
	for ok < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("the failing endpoint was not ejected: %d requests in a row succeeded", ok)
		}
		code, body, _ := policyGet(t, client, g, "pair.example.com")
		if code != http.StatusOK {
			ok = 0
			continue
		}
		var e struct{ Backend string }
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Backend != "good" {
			t.Fatalf("200 from %q (%v), want the good backend", body, err)
		}
		ok++
	}
}

// TestConnectionPoolOverflow: with maxConnections 1 and http1MaxPendingRequests 1, while one
// request is in flight and another waits, a further one gets 503 with x-envoy-overloaded.
func TestConnectionPoolOverflow(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 4)
	unblock := make(chan struct{})
	release := sync.OnceFunc(func() { close(unblock) })
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		arrived <- struct{}{}
		<-unblock
		_, _ = io.WriteString(w, "slow")
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(release)
	dir := t.TempDir()
	writeFile(t, dir, "gateway.yaml", fmt.Sprintf(policyGateway, "slow.example.com"))
	slowPort := slow.Listener.Addr().(*net.TCPAddr).Port
	writeFile(t, dir, "service.yaml", docs(staticEntry("slow", "istio-system", "slow.example.com", 80, "HTTP", slowPort), `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: slow, namespace: istio-system}
spec:
  host: slow.example.com
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 1}
      http: {http1MaxPendingRequests: 1}
`))
	g := run(t, dir, 80)
	client := &http.Client{Timeout: 20 * time.Second}
	type result struct {
		code       int
		overloaded string
	}
	results := make(chan result, 3)
	// send runs off the test goroutine, so it reports failures as results.
	send := func() {
		req, _ := http.NewRequest(http.MethodGet, g.url("/"), nil)
		req.Host = "slow.example.com"
		res, err := client.Do(req)
		if err != nil {
			results <- result{code: -1, overloaded: err.Error()}
			return
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		results <- result{res.StatusCode, res.Header.Get("X-Envoy-Overloaded")}
	}
	go send()
	<-arrived
	// Of two more, one waits for the connection and the other overflows at once.
	go send()
	go send()
	first := <-results
	if first.code != http.StatusServiceUnavailable || first.overloaded != "true" {
		t.Errorf("overflowing request: %d overloaded=%q, want 503 with x-envoy-overloaded: true", first.code, first.overloaded)
	}
	release()
	for range 2 {
		if r := <-results; r.code != http.StatusOK {
			t.Errorf("served request: %d, want 200", r.code)
		}
	}
}

// TestEgressTLSOrigination follows Istio's "Egress TLS Origination" task: a client sends plain
// HTTP for an external host, the gateway originates TLS to it as the DestinationRule says (a
// loopback HTTPS server stands in for the external host), and a host no VirtualService routes
// gets 404.
func TestEgressTLSOrigination(t *testing.T) {
	t.Parallel()
	external := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		_, _ = fmt.Fprintf(w, "external over TLS, SNI %s", r.TLS.ServerName)
	}))
	t.Cleanup(external.Close)
	dir := t.TempDir()
	caFile := filepath.Join(t.TempDir(), "external-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: external.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "gateway.yaml", fmt.Sprintf(policyGateway, "edition.example.com"))
	writeFile(t, dir, "egress.yaml", fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: edition, namespace: istio-system}
spec:
  hosts: [edition.example.com]
  location: MESH_EXTERNAL
  ports:
  - {number: 80, name: http-port, protocol: HTTP, targetPort: %s}
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: edition, namespace: istio-system}
spec:
  host: edition.example.com
  trafficPolicy:
    portLevelSettings:
    - port: {number: 80}
      tls: {mode: SIMPLE, caCertificates: %q, sni: example.com}
`, httptestPort(t, external), caFile))
	g := run(t, dir, 80)
	body, code := curl(t, "-H", "Host: edition.example.com", g.url("/"))
	if code != http.StatusOK || body != "external over TLS, SNI example.com" {
		t.Errorf("routed host: %d %q, want 200 from the external server over TLS", code, body)
	}
	if _, code := curl(t, "-H", "Host: unrouted.example.com", g.url("/")); code != http.StatusNotFound {
		t.Errorf("unrouted host: %d, want 404", code)
	}
}
