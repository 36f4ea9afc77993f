package e2e

import (
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/test/peers/pebblepeer"
)

// acmeEdge is a Gateway with HTTP on 80 (HTTP-01 is answered there) and, on 443, one HTTPS
// server per credential, each with its hosts, all routed to a demo backend; and one ACMEIssuer per
// issuer document.
func acmeEdge(t *testing.T, servers map[string][]string, issuers ...string) string {
	t.Helper()
	gw := `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
`
	i := 0
	for credential, hosts := range servers {
		gw += fmt.Sprintf("  - port: {number: 443, name: https-%d, protocol: HTTPS}\n    hosts: [%s]\n    tls: {mode: SIMPLE, credentialName: %s}\n",
			i, strings.Join(hosts, ", "), credential)
		i++
	}
	return docs(append([]string{gw, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  http: [{route: [{destination: {host: backend.internal}}]}]
`, staticEntry("backend", "istio-system", "backend.internal", 80, "HTTP", backend(t, "app"))}, issuers...)...)
}

// acmeIssuer is an ACMEIssuer of the Pebble directory for hosts into credential, answering only
// the given challenge.
func acmeIssuer(peer *pebblepeer.Peer, name, challenge, credential string, hosts ...string) string {
	return `apiVersion: gatehouse.dev/v1alpha1
kind: ACMEIssuer
metadata: {name: ` + name + `, namespace: istio-system}
spec:
  directoryURL: ` + peer.Directory + `
  email: ops@example.test
  caBundle: |
    ` + strings.ReplaceAll(strings.TrimSpace(string(peer.DirectoryCAPEM)), "\n", "\n    ") + `
  challenges: [` + challenge + `]
  hosts: [` + strings.Join(hosts, ", ") + `]
  credentialName: ` + credential + `
`
}

// waitCertified polls curl --cacert roots for host until it verifies, or fails the test.
func waitCertified(t *testing.T, port int, host, roots string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var stderr string
	for time.Now().Before(deadline) {
		var code int
		if _, code, stderr = curlTLS(t, port, host, "/headers", "--cacert", roots); code == 200 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("https://%s never verified with Pebble's root: %s", host, stderr)
}

// TestACME: the gateway obtains one certificate through TLS-ALPN-01 and another through HTTP-01
// from a real ACME server (Pebble), both verify with curl --cacert and Pebble's root, a Gateway
// host outside every issuer's list is never ordered, and a restart serves the cached
// certificates with no new order (issue 8).
func TestACME(t *testing.T) {
	t.Parallel()
	httpPort, tlsPort := freePort(t), freePort(t)
	peer := pebblepeer.Start(t, pebblepeer.Options{HTTPPort: httpPort, TLSPort: tlsPort})
	dir, data := t.TempDir(), t.TempDir()
	writeFile(t, dir, "edge.yaml", acmeEdge(t, map[string][]string{
		"alpn-cert": {"alpn.example.test", "outside.example.test"},
		"http-cert": {"http.example.test"},
	}, acmeIssuer(peer, "alpn", "TLS-ALPN-01", "alpn-cert", "alpn.example.test"),
		acmeIssuer(peer, "http", "HTTP-01", "http-cert", "http.example.test")))
	roots := filepath.Join(t.TempDir(), "pebble-roots.pem")
	if err := os.WriteFile(roots, peer.Roots(t), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--port-map", fmt.Sprintf("80=%d,443=%d", httpPort, tlsPort), "--data", data}

	g := runPorts(t, dir, []int{80, 443}, args...)
	waitCertified(t, tlsPort, "alpn.example.test", roots)
	waitCertified(t, tlsPort, "http.example.test", roots)
	if n := peer.Orders(t); n != 2 {
		t.Errorf("Pebble saw %d orders, want 2: one per issuer, none for outside.example.test", n)
	}
	// The Gateway serves outside.example.test with the issuer's certificate, which does not name it.
	if _, code, stderr := curlTLS(t, tlsPort, "outside.example.test", "/headers", "--cacert", roots); code == 200 || !strings.Contains(stderr, "outside.example.test") {
		t.Errorf("a host outside the issuer's list verified (%d): %s", code, stderr)
	}

	if err := g.stop(); err != nil {
		t.Fatalf("stopping: %v", err)
	}
	runPorts(t, dir, []int{80, 443}, args...)
	waitCertified(t, tlsPort, "alpn.example.test", roots)
	waitCertified(t, tlsPort, "http.example.test", roots)
	if n := peer.Orders(t); n != 2 {
		t.Errorf("after a restart Pebble saw %d orders, want still 2", n)
	}
}

// TestACMERenewal: a certificate with a 30 s lifetime is renewed once a third of it is left,
// and the new one serves without a restart (issue 8).
func TestACMERenewal(t *testing.T) {
	t.Parallel()
	httpPort, tlsPort := freePort(t), freePort(t)
	peer := pebblepeer.Start(t, pebblepeer.Options{HTTPPort: httpPort, TLSPort: tlsPort, CertificateLifetime: 30 * time.Second})
	dir := t.TempDir()
	writeFile(t, dir, "edge.yaml", acmeEdge(t, map[string][]string{"short-cert": {"short.example.test"}},
		acmeIssuer(peer, "short", "TLS-ALPN-01", "short-cert", "short.example.test")))
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(peer.Roots(t))
	runPorts(t, dir, []int{80, 443}, "--port-map", fmt.Sprintf("80=%d,443=%d", httpPort, tlsPort))

	first := ""
	deadline := time.Now().Add(30 * time.Second)
	for first == "" && time.Now().Before(deadline) {
		if first, _ = servedSerial(tlsPort, "short.example.test", roots); first == "" {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if first == "" {
		t.Fatal("no certificate issued")
	}
	// Renewal is due 20 s after issuance; Pebble backdates nothing.
	deadline = time.Now().Add(45 * time.Second)
	for time.Now().Before(deadline) {
		if s, _ := servedSerial(tlsPort, "short.example.test", roots); s != "" && s != first {
			if n := peer.Orders(t); n != 2 {
				t.Errorf("Pebble saw %d orders, want 2: the first and the renewal", n)
			}
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("the certificate (serial %s) was not renewed within its last third", first)
}

// TestACMETwoReplicas: two replicas on one data directory (file mode's shared cache) order
// the certificate once, whichever takes the lock, and both serve it. Pebble validates on the
// first replica's ports only, as a CA reaches one replica behind a load balancer: the pending
// challenge is in the shared cache, so the first answers for the second (issue 8).
func TestACMETwoReplicas(t *testing.T) {
	t.Parallel()
	httpPort, tlsPort := freePort(t), freePort(t)
	peer := pebblepeer.Start(t, pebblepeer.Options{HTTPPort: httpPort, TLSPort: tlsPort})
	dir, data := t.TempDir(), t.TempDir()
	writeFile(t, dir, "edge.yaml", acmeEdge(t, map[string][]string{"shared-cert": {"shared.example.test"}},
		acmeIssuer(peer, "shared", "TLS-ALPN-01", "shared-cert", "shared.example.test")))
	roots := filepath.Join(t.TempDir(), "pebble-roots.pem")
	if err := os.WriteFile(roots, peer.Roots(t), 0o600); err != nil {
		t.Fatal(err)
	}
	other := freePort(t)
	runPorts(t, dir, []int{80, 443}, "--data", data, "--port-map", fmt.Sprintf("80=%d,443=%d", httpPort, tlsPort))
	runPorts(t, dir, []int{80, 443}, "--data", data, "--port-map", fmt.Sprintf("80=%d,443=%d", freePort(t), other))
	waitCertified(t, tlsPort, "shared.example.test", roots)
	waitCertified(t, other, "shared.example.test", roots)
	if n := peer.Orders(t); n != 1 {
		t.Errorf("two replicas made %d orders, want 1", n)
	}
}
