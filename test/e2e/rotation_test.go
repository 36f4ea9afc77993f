package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rotationGateway is a SIMPLE server for a.example.com, with Secret a-cert, routed to the backend
// on port backend.
func rotationGateway(backend int) string {
	return docs(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [a.example.com]
    tls: {mode: SIMPLE, credentialName: a-cert}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: istio-system}
spec:
  hosts: [a.example.com]
  gateways: [edge]
  http:
  - route:
    - destination: {host: backend.internal}
`, staticEntry("backend", "istio-system", "backend.internal", 80, "HTTP", backend))
}

// servedSerial does one new TLS handshake for host and returns the serial of the certificate
// presented, verified with roots.
func servedSerial(port int, host string, roots *x509.CertPool) (string, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", fmt.Sprintf("127.0.0.1:%d", port),
		&tls.Config{ServerName: host, RootCAs: roots})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Text(16), nil
}

// TestSecretRotationUnderLoad replaces the Secret behind a SIMPLE server while clients send
// requests over kept-alive and new connections: no request fails, and new handshakes get the new
// certificate. How long that took is logged; tests do not assert on timing.
func TestSecretRotationUnderLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	serverCA := newCA(t, "server-ca")
	roots := x509.NewCertPool()
	roots.AddCert(serverCA.cert)
	old := serverCA.issue(t, leafOpts{dns: []string{"a.example.com"}, serial: 0xa1})
	writeFile(t, dir, "secret.yaml", secretYAML("a-cert", "tls", old.cert, old.key, ""))
	writeFile(t, dir, "gateway.yaml", rotationGateway(backend(t, "v1")))
	g := runPorts(t, dir, []int{443})
	port := g.ports[443]

	url := fmt.Sprintf("https://a.example.com:%d/headers", port)
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, fmt.Sprintf("127.0.0.1:%d", port))
	}
	clients := []*http.Client{
		{Transport: &http.Transport{DialContext: dial, TLSClientConfig: &tls.Config{RootCAs: roots}}, Timeout: 10 * time.Second},
		{Transport: &http.Transport{DialContext: dial, TLSClientConfig: &tls.Config{RootCAs: roots}, DisableKeepAlives: true}, Timeout: 10 * time.Second},
	}
	var stop atomic.Bool
	var total, failures atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func(c *http.Client) {
			defer wg.Done()
			for !stop.Load() {
				total.Add(1)
				resp, err := c.Get(url)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}(clients[i%2])
	}

	if s, err := servedSerial(port, "a.example.com", roots); err != nil || s != "a1" {
		t.Fatalf("before rotation: serial %q, %v", s, err)
	}
	next := serverCA.issue(t, leafOpts{dns: []string{"a.example.com"}, serial: 0xa2})
	rotated := time.Now()
	writeFile(t, dir, "secret.yaml", secretYAML("a-cert", "tls", next.cert, next.key, ""))
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, err := servedSerial(port, "a.example.com", roots)
		if err == nil && s == "a2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new certificate was never served: %q %v", s, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("new handshakes got the new certificate %v after the Secret file was replaced", time.Since(rotated).Round(time.Millisecond))
	stop.Store(true)
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d of %d requests failed across the rotation; first: %v", n, total.Load(), firstErr.Load())
	}
	if total.Load() == 0 {
		t.Fatal("no requests were sent")
	}
	t.Logf("%d requests over kept-alive and new connections, none failed", total.Load())
}
