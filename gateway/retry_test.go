package gateway

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// routeHTTP is a VirtualService for every host whose single http route has the given extra
// fields (YAML at the route's indentation) and forwards to host.
func routeHTTP(host, fields string) string {
	return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: all, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
  - route: [{destination: {host: ` + host + `}}]
` + fields
}

// flaky answers 503 to its first n requests, then echoes; it counts requests and keeps the
// bodies it saw.
type flaky struct {
	n, seen atomic.Int64
	code    int
	bodies  chan string
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	select {
	case f.bodies <- string(b):
	default:
	}
	if f.seen.Add(1) <= f.n.Load() {
		w.WriteHeader(f.code)
		return
	}
	_, _ = w.Write([]byte("ok"))
}

func newFlaky(t *testing.T, failures int64, code int) (*flaky, string) {
	t.Helper()
	f := &flaky{code: code, bodies: make(chan string, 16)}
	f.n.Store(failures)
	srv := backendHandler(t, f)
	return f, port(t, srv)
}

func TestRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		failures int64
		code     int
		fields   string
		want     int
		tries    int64
	}{
		{"istio default retries 503 twice", 2, 503, "", 200, 3},
		{"istio default gives up after two retries", 5, 503, "", 503, 3},
		{"istio default does not retry 500", 1, 500, "", 500, 1},
		{"attempts 0 disables", 1, 503, "    retries: {attempts: 0}\n", 503, 1},
		{"5xx retries 500", 1, 500, "    retries: {attempts: 1, retryOn: 5xx}\n", 200, 2},
		{"status code in retryOn", 1, 409, "    retries: {attempts: 1, retryOn: \"409\"}\n", 200, 2},
		{"retryOn replaces the default codes", 1, 503, "    retries: {attempts: 2, retryOn: retriable-4xx}\n", 503, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, p := newFlaky(t, tt.failures, tt.code)
			g := startGateway(t, snapshot(t, 1, edgeGateway, staticEntry("app", "app.internal", p), routeHTTP("app.internal", tt.fields)))
			res, err := get(t, newClient(t), g.addr(t, 80), "x", "/")
			if err != nil {
				t.Fatal(err)
			}
			if res.code != tt.want || f.seen.Load() != tt.tries {
				t.Errorf("got %d after %d tries, want %d after %d", res.code, f.seen.Load(), tt.want, tt.tries)
			}
		})
	}
}

// TestRetryReplaysBody: a retried POST reaches the upstream with its whole body each time.
func TestRetryReplaysBody(t *testing.T) {
	t.Parallel()
	f, p := newFlaky(t, 1, 503)
	g := startGateway(t, snapshot(t, 1, edgeGateway, staticEntry("app", "app.internal", p), routeHTTP("app.internal", "")))
	body := strings.Repeat("payload ", 1000)
	res, err := newClient(t).Post("http://"+g.addr(t, 80)+"/", "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("status %d, want 200 after a retry", res.StatusCode)
	}
	for i := range 2 {
		if got := <-f.bodies; got != body {
			t.Errorf("try %d body: %d bytes, want %d", i, len(got), len(body))
		}
	}
}

// TestRetryTooLargeBody: a body over the retry buffer is sent once and not retried.
func TestRetryTooLargeBody(t *testing.T) {
	t.Parallel()
	f, p := newFlaky(t, 1, 503)
	g := startGateway(t, snapshot(t, 1, edgeGateway, staticEntry("app", "app.internal", p), routeHTTP("app.internal", "")))
	res, err := newClient(t).Post("http://"+g.addr(t, 80)+"/", "text/plain", bytes.NewReader(make([]byte, retryBufferLimit+1)))
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != 503 || f.seen.Load() != 1 {
		t.Errorf("status %d after %d tries, want 503 after 1", res.StatusCode, f.seen.Load())
	}
}

// TestRetryConnectFailureMovesOn: with one dead endpoint, Istio's default retry goes to the
// other endpoint (previous hosts are avoided).
func TestRetryConnectFailureMovesOn(t *testing.T) {
	t.Parallel()
	up := backend(t, "alive")
	dead := deadPort(t)
	entry := `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: app, namespace: istio-system}
spec:
  hosts: [app.internal]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: ` + dead + `}}, {address: 127.0.0.1, ports: {http: ` + port(t, up) + `}}]
`
	g := startGateway(t, snapshot(t, 1, edgeGateway, entry, routeHTTP("app.internal", "")))
	c := newClient(t)
	for range 20 {
		res, err := get(t, c, g.addr(t, 80), "x", "/")
		if err != nil {
			t.Fatal(err)
		}
		if res.code != 200 {
			t.Fatalf("status %d (%s), want 200: the retry should reach the live endpoint", res.code, res.body)
		}
	}
}

func TestTimeouts(t *testing.T) {
	t.Parallel()
	// slow answers after its first request's delay; later requests are fast.
	var calls atomic.Int64
	slow := backendHandler(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(5 * time.Second):
			}
		}
		_, _ = w.Write([]byte("ok"))
	}))
	tests := []struct {
		name   string
		fields string
		want   int
		body   string
	}{
		{"route timeout gives 504", "    timeout: 0.2s\n    retries: {attempts: 0}\n", 504, bodyUpstreamTimeout},
		{"per-try timeout is retried under 5xx", "    timeout: 4s\n    retries: {attempts: 2, perTryTimeout: 0.2s, retryOn: 5xx}\n", 200, "ok"},
		{"per-try timeout without retry gives 504", "    retries: {attempts: 2, perTryTimeout: 0.2s, retryOn: connect-failure}\n", 504, bodyUpstreamTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls.Store(0)
			g := startGateway(t, snapshot(t, 1, edgeGateway, staticEntry("app", "app.internal", port(t, slow)), routeHTTP("app.internal", tt.fields)))
			res, err := get(t, newClient(t), g.addr(t, 80), "x", "/")
			if err != nil {
				t.Fatal(err)
			}
			if res.code != tt.want || res.body != tt.body {
				t.Errorf("got %d %q, want %d %q", res.code, res.body, tt.want, tt.body)
			}
		})
	}
}

// backendHandler serves h on loopback until the test ends.
func backendHandler(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
