package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// backend is an upstream that answers with its name and echoes what the gateway sent.
func backend(t *testing.T, name string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(echo(name))
	t.Cleanup(srv.Close)
	return srv
}

func echo(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Backend", name)
		h.Set("X-Seen-Host", r.Host)
		h.Set("X-Seen-Path", r.URL.RequestURI())
		h.Set("X-Seen-Forwarded-For", r.Header.Get("X-Forwarded-For"))
		h.Set("X-Seen-Forwarded-Proto", r.Header.Get("X-Forwarded-Proto"))
		h.Set("X-Seen-Request-Id", r.Header.Get("X-Request-Id"))
		h.Set("X-Seen-Proto", r.Proto)
		h.Set("X-Seen-Xfcc", r.Header.Get("X-Forwarded-Client-Cert"))
		_, _ = io.WriteString(w, name)
	})
}

// port returns the port of a test server as a string.
func port(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	_, p, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// deadPort returns a loopback port nothing listens on.
func deadPort(t *testing.T) string {
	t.Helper()
	// Below the kernel's ephemeral range (32768 and up), so no listener bound to port 0 and no
	// client connection can take the port after it is found free.
	for range 1000 {
		p := strconv.Itoa(20000 + rand.IntN(12768))
		ln, err := net.Listen("tcp", "127.0.0.1:"+p)
		if err != nil {
			continue
		}
		_ = ln.Close()
		return p
	}
	t.Fatal("no free loopback port below the ephemeral range")
	return ""
}

// staticEntry is a ServiceEntry for host with one loopback endpoint on port.
func staticEntry(name, host, port string) string {
	return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: %s, namespace: istio-system}
spec:
  hosts: [%s]
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: %s}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
`, name, host, port)
}

// edgeGateway serves every host on server port 80.
const edgeGateway = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
`

// snapshot parses YAML documents into a snapshot, failing the test on any error.
func snapshot(t *testing.T, version uint64, docs ...string) *policy.Snapshot {
	t.Helper()
	snap, ps := policy.ParseSnapshot(map[string][]byte{"test.yaml": []byte(strings.Join(docs, "---\n"))})
	if snap == nil {
		t.Fatalf("config does not load:\n%v", ps)
	}
	return policy.NewSnapshot(version, snap.Resources(), snap.Mesh, snap.Settings, nil, nil)
}

// testGateway is a Gateway on loopback ephemeral ports, with its own metrics registry.
type testGateway struct {
	*Gateway
	reg *prometheus.Registry
}

// startGateway serves snap; server port 80 and the given ports listen on ephemeral ports.
func startGateway(t *testing.T, snap *policy.Snapshot, ports ...uint32) *testGateway {
	t.Helper()
	portMap := map[uint32]uint32{80: 0}
	for _, p := range ports {
		portMap[p] = 0
	}
	g := newTestGateway(t, portMap)
	if err := g.Apply(snap); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return g
}

// newTestGateway returns a Gateway on loopback that has applied nothing yet; opts, when given,
// adjust its Options.
func newTestGateway(t *testing.T, portMap map[uint32]uint32, opts ...func(*Options)) *testGateway {
	t.Helper()
	reg := prometheus.NewRegistry()
	o := Options{
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registerer:  reg,
		BindAddress: "127.0.0.1",
		Compile:     CompileOptions{PortMap: portMap},
	}
	for _, f := range opts {
		f(&o)
	}
	g := New(o)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return &testGateway{Gateway: g, reg: reg}
}

// addr is the listen address of a server port.
func (g *testGateway) addr(t *testing.T, port uint32) string {
	t.Helper()
	a, ok := g.ListenAddrs()[ListenerKey{Port: port}]
	if !ok {
		t.Fatalf("no listener for port %d: %v", port, g.ListenAddrs())
	}
	return a
}

type response struct {
	code   int
	body   string
	header http.Header
}

// get sends a request for host and path to a gateway address.
func get(t *testing.T, client *http.Client, addr, host, path string, headers ...string) (response, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, err
	}
	return response{code: res.StatusCode, body: string(b), header: res.Header}, nil
}

func newClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport: tr,
		Timeout:   10 * time.Second,
		// Redirects are what the gateway answers; the test looks at them, not past them.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
