package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// observabilityMesh turns the access log on the way Istio users do (MeshConfig accessLogFile
// and accessLogEncoding).
const observabilityMesh = `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    accessLogFile: %q
    accessLogEncoding: JSON
`

// observabilityRoutes routes demo.example.com to the backend on port backend.
func observabilityRoutes(backend int) string {
	return docs(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: demo, namespace: istio-system}
spec:
  hosts: [demo.example.com]
  gateways: [edge]
  http:
  - name: api
    match: [{uri: {prefix: /anything}}]
    route:
    - destination: {host: backend.internal}
`, staticEntry("backend", "istio-system", "backend.internal", 80, "HTTP", backend))
}

// TestObservability checks the data plane's access log and Istio's standard metrics, read as
// users read them: the log file with a JSON parser, /stats/prometheus with curl.
func TestObservability(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logFile := filepath.Join(t.TempDir(), "access.log")
	writeFile(t, dir, "config.yaml", docs(fmt.Sprintf(observabilityMesh, logFile), observabilityRoutes(backend(t, "v1"))))
	g := run(t, dir, 80)

	for path, want := range map[string]int{"/anything/a?x=1": 200, "/anything/b": 200, "/nope": 404} {
		if _, code := curl(t, "-H", "Host: demo.example.com", "-H", "User-Agent: e2e/1", g.url(path)); code != want {
			t.Fatalf("%s: code %d, want %d", path, code, want)
		}
	}

	type line struct {
		Method        string  `json:"method"`
		Path          string  `json:"path"`
		Code          int     `json:"response_code"`
		Flags         string  `json:"response_flags"`
		UserAgent     string  `json:"user_agent"`
		Authority     string  `json:"authority"`
		RequestID     string  `json:"request_id"`
		Cluster       *string `json:"upstream_cluster"`
		UpstreamHost  *string `json:"upstream_host"`
		Route         *string `json:"route_name"`
		BytesSent     int64   `json:"bytes_sent"`
		StartTime     string  `json:"start_time"`
		RemoteAddress string  `json:"downstream_remote_address"`
	}
	var lines []line
	deadline := time.Now().Add(10 * time.Second)
	for {
		lines = lines[:0]
		b, _ := os.ReadFile(logFile)
		for _, raw := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var l line
			if raw != "" && json.Unmarshal([]byte(raw), &l) == nil {
				lines = append(lines, l)
			}
		}
		if len(lines) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("access log has %d JSON lines, want 3:\n%s", len(lines), b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	byPath := map[string]line{}
	for _, l := range lines {
		byPath[l.Path] = l
	}
	ok := byPath["/anything/a?x=1"]
	if ok.Code != 200 || ok.Flags != "-" || ok.Method != "GET" || ok.UserAgent != "e2e/1" || ok.Authority != "demo.example.com" || ok.RequestID == "" ||
		ok.Cluster == nil || *ok.Cluster != "outbound|80||backend.internal" || ok.UpstreamHost == nil || ok.Route == nil || *ok.Route != "istio-system/demo/api" ||
		ok.BytesSent == 0 || ok.StartTime == "" || !strings.HasPrefix(ok.RemoteAddress, "127.0.0.1:") {
		t.Errorf("200 line: %+v", ok)
	}
	if nr := byPath["/nope"]; nr.Code != 404 || nr.Flags != "NR" || nr.Cluster != nil {
		t.Errorf("404 line: %+v", nr)
	}

	body, code := curl(t, fmt.Sprintf("http://127.0.0.1:%d/stats/prometheus", g.stats))
	if code != 200 {
		t.Fatalf("metrics: status %d", code)
	}
	for _, want := range []string{
		`destination_service="backend.internal"`,
		`response_code="200"`,
		`response_code="404"`,
		`response_flags="NR"`,
		`reporter="source"`,
		`source_workload="istio-ingressgateway"`,
		"istio_request_duration_milliseconds_bucket",
		"istio_response_bytes_bucket",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	var total string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "istio_requests_total{") && strings.Contains(l, `response_code="200"`) {
			total = l
		}
	}
	if !strings.HasSuffix(total, " 2") {
		t.Errorf("istio_requests_total for 200 = %q, want 2", total)
	}
}

// customFormatMesh sets a custom accessLogFormat the way Istio users do, in the mesh ConfigMap.
const customFormatMesh = `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    accessLogFile: %q
    accessLogEncoding: %s
    accessLogFormat: '%s'
`

// TestAccessLogCustomFormat checks MeshConfig accessLogFormat with curl against the built
// binary: a TEXT format string with header, time-layout and length-limit operators, and a
// JSON dictionary with typed values.
func TestAccessLogCustomFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, encoding, format string
		check                  func(t *testing.T, line string)
	}{
		{"text", "TEXT", `%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %RESPONSE_CODE% tenant=%REQ(X-TENANT)% ua=%REQ(USER-AGENT):4% t=%START_TIME(%Y-%m-%dT%H:%M:%S.%3fZ)% cluster=%UPSTREAM_CLUSTER_RAW%`,
			func(t *testing.T, line string) {
				prefix := "GET /anything/a?x=1 200 tenant=acme ua=e2e/ t=20"
				if !strings.HasPrefix(line, prefix) || !strings.HasSuffix(line, "Z cluster=outbound|80||backend.internal") {
					t.Errorf("line %q, want %q...Z cluster=outbound|80||backend.internal", line, prefix)
				}
			}},
		{"json", "JSON", `{"code":"%RESPONSE_CODE%","tenant":"%REQ(X-TENANT)%","missing":"%REQ(X-NONE)%","req":"%REQ(:METHOD)% %REQ(:PATH)%"}`,
			func(t *testing.T, line string) {
				var got map[string]any
				if err := json.Unmarshal([]byte(line), &got); err != nil {
					t.Fatalf("line %q: %v", line, err)
				}
				if got["code"] != float64(200) || got["tenant"] != "acme" || got["missing"] != nil || got["req"] != "GET /anything/a?x=1" || len(got) != 4 {
					t.Errorf("line %s", line)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			logFile := filepath.Join(t.TempDir(), "access.log")
			writeFile(t, dir, "config.yaml", docs(fmt.Sprintf(customFormatMesh, logFile, tc.encoding, tc.format), observabilityRoutes(backend(t, "v1"))))
			g := run(t, dir, 80)
			if _, code := curl(t, "-H", "Host: demo.example.com", "-H", "User-Agent: e2e/1", "-H", "X-Tenant: acme", g.url("/anything/a?x=1")); code != 200 {
				t.Fatalf("code %d, want 200", code)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				b, _ := os.ReadFile(logFile)
				if line, _, ok := strings.Cut(string(b), "\n"); ok {
					tc.check(t, line)
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("no access log line in %s: %q", logFile, b)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}
