package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/gateway/accesslog"
)

// accessLogMesh is the istio ConfigMap turning the access log on, as Istio users do.
func accessLogMesh(file, encoding string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    accessLogFile: %q
    accessLogEncoding: %s
`, file, encoding)
}

// blocking answers only when its request is cancelled, after telling arrived of requests for
// /hang.
func blocking(arrived chan<- struct{}) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hang" {
			arrived <- struct{}{}
		}
		<-r.Context().Done()
	}))
}

// resilienceVS routes log.example.com to a fault and a timeout.
const resilienceVS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: log, namespace: istio-system}
spec:
  hosts: [log.example.com]
  gateways: [edge]
  http:
  - name: abort
    match: [{uri: {exact: /abort}}]
    fault: {abort: {httpStatus: 500, percentage: {value: 100}}}
    route: [{destination: {host: api.internal}}]
  - name: slow
    match: [{uri: {exact: /slow}}]
    timeout: 50ms
    retries: {attempts: 0}
    route: [{destination: {host: slow.internal}}]
  - name: hang
    match: [{uri: {exact: /hang}}]
    retries: {attempts: 0}
    route: [{destination: {host: slow.internal}}]
`

type logLine struct {
	Method          string  `json:"method"`
	Path            string  `json:"path"`
	Protocol        string  `json:"protocol"`
	ResponseCode    int     `json:"response_code"`
	ResponseFlags   string  `json:"response_flags"`
	Details         *string `json:"response_code_details"`
	BytesSent       int64   `json:"bytes_sent"`
	BytesReceived   int64   `json:"bytes_received"`
	RequestID       *string `json:"request_id"`
	Authority       string  `json:"authority"`
	UpstreamHost    *string `json:"upstream_host"`
	UpstreamCluster *string `json:"upstream_cluster"`
	RouteName       *string `json:"route_name"`
	ServiceTime     *string `json:"upstream_service_time"`
	XForwardedFor   *string `json:"x_forwarded_for"`
	RemoteAddress   *string `json:"downstream_remote_address"`
}

func TestAccessLogJSON(t *testing.T) {
	t.Parallel()
	web, api, canary := backend(t, "web"), backend(t, "api"), backend(t, "canary")
	arrived := make(chan struct{}, 1)
	slow := blocking(arrived)
	t.Cleanup(slow.Close)
	file := filepath.Join(t.TempDir(), "access.log")
	docs := append(routingConfig(t, port(t, web), port(t, api), port(t, canary)),
		accessLogMesh(file, "JSON"), staticEntry("slow", "slow.internal", port(t, slow)), resilienceVS)
	g := startGateway(t, snapshot(t, 1, docs...))
	addr := g.addr(t, 80)
	client := newClient(t)

	tests := []struct {
		host, path string
		code       int
		flags      string
		cluster    string
		route      string
		upstream   bool
	}{
		{host: "shop.example.com", path: "/api/a", code: 200, flags: "-", cluster: "outbound|80||api.internal", route: "istio-system/shop/api", upstream: true},
		{host: "shop.example.com", path: "/nope", code: 404, flags: "NR"},
		{host: "nowhere.example.org", path: "/", code: 404, flags: "NR"},
		{host: "shop.example.com", path: "/missing", code: 503, flags: "NC", cluster: "outbound|80||nowhere.internal", route: "istio-system/shop/missing"},
		{host: "shop.example.com", path: "/empty", code: 503, flags: "UH", cluster: "outbound|80||empty.internal", route: "istio-system/shop/empty"},
		{host: "shop.example.com", path: "/dead", code: 503, flags: "UF,URX", cluster: "outbound|80||dead.internal", route: "istio-system/shop/dead"},
		{host: "shop.example.com", path: "/teapot", code: 418, flags: "-", route: "istio-system/shop/teapot"},
		{host: "log.example.com", path: "/abort", code: 500, flags: "FI", cluster: "outbound|80||api.internal", route: "istio-system/log/abort"},
		{host: "log.example.com", path: "/slow", code: 504, flags: "UT", cluster: "outbound|80||slow.internal", route: "istio-system/log/slow"},
	}
	for _, tc := range tests {
		res, err := get(t, client, addr, tc.host, tc.path)
		if err != nil || res.code != tc.code {
			t.Fatalf("GET %s%s = %d, %v; want %d", tc.host, tc.path, res.code, err, tc.code)
		}
	}
	// The client gives up while the upstream is still working: Envoy's DC, code 0.
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/hang", nil)
	req.Host = "log.example.com"
	done := make(chan error, 1)
	go func() {
		_, err := client.Do(req)
		done <- err
	}()
	<-arrived
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled request: %v", err)
	}

	var lines []logLine
	eventually(t, "access log lines", func() bool {
		lines = readLogLines(t, file)
		return len(lines) == len(tests)+1
	})
	if t.Failed() {
		b, _ := os.ReadFile(file)
		t.Fatalf("access log:\n%s", b)
	}
	byPath := map[string]logLine{}
	for _, l := range lines {
		byPath[l.Path] = l
	}
	for _, tc := range tests {
		l, ok := byPath[tc.path]
		if !ok {
			t.Errorf("%s: no log line in %v", tc.path, lines)
			continue
		}
		if l.ResponseCode != tc.code || l.ResponseFlags != tc.flags || l.Method != "GET" || l.Protocol != "HTTP/1.1" || l.Authority != tc.host {
			t.Errorf("%s: logged %d %s %s %s %s, want %d %s GET HTTP/1.1 %s", tc.path, l.ResponseCode, l.ResponseFlags, l.Method, l.Protocol, l.Authority, tc.code, tc.flags, tc.host)
		}
		if got := deref(l.UpstreamCluster); got != tc.cluster {
			t.Errorf("%s: upstream_cluster %q, want %q", tc.path, got, tc.cluster)
		}
		if got := deref(l.RouteName); got != tc.route {
			t.Errorf("%s: route_name %q, want %q", tc.path, got, tc.route)
		}
		if deref(l.RequestID) == "" || !strings.HasPrefix(deref(l.RemoteAddress), "127.0.0.1:") || deref(l.XForwardedFor) != "127.0.0.1" {
			t.Errorf("%s: request_id %q, downstream_remote_address %q, x_forwarded_for %q", tc.path, deref(l.RequestID), deref(l.RemoteAddress), deref(l.XForwardedFor))
		}
		if tc.upstream {
			if !strings.HasPrefix(deref(l.UpstreamHost), "127.0.0.1:") || l.ServiceTime == nil || deref(l.Details) != "via_upstream" || l.BytesSent == 0 {
				t.Errorf("%s: upstream_host %q, upstream_service_time %v, details %q, bytes_sent %d", tc.path, deref(l.UpstreamHost), l.ServiceTime, deref(l.Details), l.BytesSent)
			}
		}
	}
	if l := byPath["/hang"]; l.ResponseCode != 0 || !strings.Contains(l.ResponseFlags, "DC") {
		t.Errorf("/hang: logged %d %s, want 0 DC", l.ResponseCode, l.ResponseFlags)
	}
	if l := byPath["/nope"]; deref(l.Details) != "route_not_found" {
		t.Errorf("/nope: details %q, want route_not_found", deref(l.Details))
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func readLogLines(t *testing.T, file string) []logLine {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var out []logLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var l logLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("access log line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

// logBuffer is a bytes.Buffer the Logger's goroutine writes while the test reads.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestAccessLogText(t *testing.T) {
	t.Parallel()
	web, api, canary := backend(t, "web"), backend(t, "api"), backend(t, "canary")
	g := startGateway(t, snapshot(t, 1, routingConfig(t, port(t, web), port(t, api), port(t, canary))...))
	var buf logBuffer
	ctx, cancel := context.WithCancel(context.Background())
	sink := &accessLogSink{logger: accesslog.New(&buf, accesslog.Text, 0, g.log), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(sink.done)
		sink.logger.Run(ctx)
	}()
	t.Cleanup(func() { _ = sink.close() })
	g.accessLogs.live.Store(sink)

	res, err := get(t, newClient(t), g.addr(t, 80), "shop.example.com", "/api/x?q=1", "User-Agent", "probe/1", "X-Request-Id", "abc")
	if err != nil || res.code != 200 {
		t.Fatalf("GET = %d, %v", res.code, err)
	}
	eventually(t, "a text line", func() bool { return strings.Contains(buf.String(), "\n") })
	line := buf.String()
	for _, want := range []string{
		`"GET /api/x?q=1 HTTP/1.1" 200 - via_upstream`,
		`"probe/1" "abc" "shop.example.com" "127.0.0.1:`,
		` outbound|80||api.internal `,
		` istio-system/shop/api`,
	} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q lacks %q", line, want)
		}
	}
}

func TestLocalReplyFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		want accesslog.ResponseFlags
	}{
		{bodyNoHealthyUpstream, accesslog.NoHealthyUpstream},
		{bodyConnectFailure, accesslog.UpstreamConnectionFailure},
		{bodyConnectionReset, accesslog.UpstreamConnectionTermination},
		{bodyUpstreamTimeout, accesslog.UpstreamRequestTimeout},
		{bodyOverflow, accesslog.UpstreamOverflow},
		{bodyPayloadTooLarge, 0},
		{"", 0},
	}
	for _, tc := range tests {
		rs := &routeState{}
		localReply(&statusWriter{ResponseWriter: httptest.NewRecorder(), state: rs}, http.StatusServiceUnavailable, tc.body)
		if got := accesslog.ResponseFlags(rs.flags.Load()); got != tc.want {
			t.Errorf("%q: flags %s, want %s", tc.body, got, tc.want)
		}
	}
}

func TestAccessLogReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, second := filepath.Join(dir, "first.log"), filepath.Join(dir, "second.log")
	web, api, canary := backend(t, "web"), backend(t, "api"), backend(t, "canary")
	routes := routingConfig(t, port(t, web), port(t, api), port(t, canary))
	g := startGateway(t, snapshot(t, 1, append(routes, accessLogMesh(first, "TEXT"))...))
	client := newClient(t)
	addr := g.addr(t, 80)
	if _, err := get(t, client, addr, "shop.example.com", "/api/1"); err != nil {
		t.Fatal(err)
	}
	if err := g.Apply(snapshot(t, 2, append(routes, accessLogMesh(second, "JSON"))...)); err != nil {
		t.Fatal(err)
	}
	if _, err := get(t, client, addr, "shop.example.com", "/api/2"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the second file's line", func() bool { return len(readLogLines(t, second)) == 1 })
	if l := readLogLines(t, second)[0]; l.Path != "/api/2" {
		t.Errorf("second log has %q", l.Path)
	}
	// Turning it off stops logging.
	if err := g.Apply(snapshot(t, 3, routes...)); err != nil {
		t.Fatal(err)
	}
	if g.accessLogs.live.Load() != nil {
		t.Error("access log still on without accessLogFile")
	}
	eventually(t, "the first file's line", func() bool {
		b, _ := os.ReadFile(first)
		return strings.Contains(string(b), `"GET /api/1 HTTP/1.1" 200`)
	})
}
