package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// hardeningConfig: DECODE_AND_MERGE_SLASHES path normalization, a 1s header timeout, the demo
// backend behind edge.example.com and a flaky upstream behind flaky.example.com.
func hardeningConfig(backend, flaky int) string {
	return docs(`apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    pathNormalization:
      normalization: DECODE_AND_MERGE_SLASHES
---
apiVersion: gatehouse.dev/v1alpha1
kind: Settings
metadata: {name: gatehouse, namespace: istio-system}
spec:
  downstream: {headerTimeout: 1s}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [edge.example.com, flaky.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: edge, namespace: istio-system}
spec:
  hosts: [edge.example.com]
  gateways: [edge]
  http:
  - route:
    - destination: {host: backend.internal}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: flaky, namespace: istio-system}
spec:
  hosts: [flaky.example.com]
  gateways: [edge]
  http:
  - route:
    - destination: {host: flaky.internal}
`,
		staticEntry("backend", "istio-system", "backend.internal", 80, "HTTP", backend),
		staticEntry("flaky", "istio-system", "flaky.internal", 80, "HTTP", flaky))
}

// TestDownstreamHardening drives the binary with curl and raw TCP clients through the request
// handling an edge must get right before it routes anything.
func TestDownstreamHardening(t *testing.T) {
	t.Parallel()
	// The flaky upstream fails every other request with 503; Istio's default retry policy (no
	// `retries` in the VirtualService) must hide that from clients.
	var calls atomic.Int64
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1)%2 == 1 {
			http.Error(w, "flaky", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(flaky.Close)
	flakyPort := flaky.Listener.Addr().(*net.TCPAddr).Port

	dir := t.TempDir()
	writeFile(t, dir, "config.yaml", hardeningConfig(backend(t, "v1"), flakyPort))
	g := run(t, dir, 80)
	host := "Host: edge.example.com"

	t.Run("default retries turn a flaky upstream's 503s into 200s", func(t *testing.T) {
		for range 10 {
			if body, code := curl(t, "-H", "Host: flaky.example.com", g.url("/")); code != 200 || body != "ok" {
				t.Fatalf("code %d body %q", code, body)
			}
		}
	})
	t.Run("paths arrive normalized", func(t *testing.T) {
		for raw, want := range map[string]string{
			"/a/../anything/x":    `"path":"/anything/x"`,
			"/anything%2Fadmin":   `"path":"/anything/admin"`,
			"/anything//a/./b":    `"path":"/anything/a/b"`,
			"/x/..%2F../anything": `"path":"/anything"`,
		} {
			body, code := curl(t, "--path-as-is", "-H", host, g.url(raw))
			if code != 200 || !strings.Contains(body, want) {
				t.Errorf("%s: code %d, want %s in\n%s", raw, code, want, body)
			}
		}
	})
	t.Run("an oversized header gets 431", func(t *testing.T) {
		if _, code := curl(t, "-H", host, "-H", "x-big: "+strings.Repeat("a", 70<<10), g.url("/headers")); code != 431 {
			t.Errorf("code %d, want 431", code)
		}
	})
	t.Run("a spoofed X-Forwarded-For does not change the client address", func(t *testing.T) {
		body, code := curl(t, "-H", host, "-H", "X-Forwarded-For: 6.6.6.6", g.url("/headers"))
		if code != 200 || !strings.Contains(body, `"X-Envoy-External-Address":"127.0.0.1"`) || !strings.Contains(body, "6.6.6.6,127.0.0.1") {
			t.Errorf("code %d:\n%s", code, body)
		}
	})
	t.Run("Content-Length with Transfer-Encoding gets 400 and reaches no upstream", func(t *testing.T) {
		before := calls.Load()
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", g.http))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// The request a front end reading Content-Length would forward as one, carrying a
		// second request for whoever reads the chunked framing.
		if _, err := io.WriteString(conn, "POST / HTTP/1.1\r\nHost: flaky.example.com\r\nContent-Length: 56\r\n"+
			"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: flaky.example.com\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		// A hang guard: the gateway closes the connection after its answer.
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		got, err := io.ReadAll(conn)
		if !strings.HasPrefix(string(got), "HTTP/1.1 400 ") || strings.Count(string(got), "HTTP/1.1 ") != 1 {
			t.Errorf("answer %q (%v), want one 400 and the connection closed", got, err)
		}
		if n := calls.Load() - before; n != 0 {
			t.Errorf("the upstream got %d requests, want none", n)
		}
	})
	t.Run("a slowloris client is cut off by the header timeout", func(t *testing.T) {
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", g.http))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, "GET /headers HTTP/1.1\r\nHost: edge.example.com\r\nX-Slow: "); err != nil {
			t.Fatal(err)
		}
		// Never finish the headers. The gateway must close the connection; the deadline only
		// stops the test from hanging if it does not.
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, err = io.Copy(io.Discard, bufio.NewReader(conn))
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("the connection was still open after 30s")
		}
	})
}
