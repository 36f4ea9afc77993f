package e2e

import (
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

// routingConfig is a Gateway on server port 80 and a VirtualService over demo backends v1 and
// v2: jason goes to v2, mary is aborted, /slow is delayed, /timeout times out, and the rest is
// split 75/25.
func routingConfig(v1, v2 int) string {
	return docs(
		staticEntry("v1", "istio-system", "v1.internal", 80, "HTTP", v1),
		staticEntry("v2", "istio-system", "v2.internal", 80, "HTTP", v2),
		`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: routing, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: v2.internal}}]
  - match: [{headers: {end-user: {exact: mary}}}]
    fault: {abort: {httpStatus: 500, percentage: {value: 100}}}
    route: [{destination: {host: v1.internal}}]
  - match: [{uri: {prefix: /slow}}]
    fault: {delay: {fixedDelay: 0.3s, percentage: {value: 100}}}
    rewrite: {uri: /headers}
    route: [{destination: {host: v1.internal}}]
  - match: [{uri: {prefix: /delay}}]
    timeout: 0.5s
    route: [{destination: {host: v1.internal}}]
  - route:
    - {destination: {host: v1.internal}, weight: 75}
    - {destination: {host: v2.internal}, weight: 25}
`)
}

func TestRouting(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "routing.yaml", routingConfig(backend(t, "v1"), backend(t, "v2")))
	g := run(t, dir, 80)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	do := func(path string, headers ...string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, g.url(path), nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		_, _ = io.Copy(io.Discard, res.Body)
		return res.StatusCode, res.Header.Get("X-Backend-Name")
	}

	t.Run("75/25 split", func(t *testing.T) {
		const n = 2000
		v2 := 0
		for range n {
			code, name := do("/headers")
			if code != 200 {
				t.Fatalf("status %d", code)
			}
			if name == "v2" {
				v2++
			}
		}
		// Binomial: ±4 standard deviations around n×0.25.
		mean, sd := n*0.25, math.Sqrt(n*0.25*0.75)
		if math.Abs(float64(v2)-mean) > 4*sd {
			t.Errorf("v2 got %d of %d, want %.0f ± %.0f", v2, n, mean, 4*sd)
		}
	})
	t.Run("end-user jason goes to v2", func(t *testing.T) {
		for range 20 {
			if code, name := do("/headers", "end-user", "jason"); code != 200 || name != "v2" {
				t.Fatalf("jason got %d from %q, want 200 from v2", code, name)
			}
		}
	})
	t.Run("fault abort for mary only", func(t *testing.T) {
		if code, _ := do("/headers", "end-user", "mary"); code != 500 {
			t.Errorf("mary got %d, want the injected 500", code)
		}
		if code, _ := do("/headers", "end-user", "bob"); code != 200 {
			t.Errorf("bob got %d, want 200", code)
		}
	})
	t.Run("fixed delay", func(t *testing.T) {
		start := time.Now()
		if code, _ := do("/slow"); code != 200 {
			t.Fatalf("delayed request got %d", code)
		}
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Errorf("delayed request took %v, want at least 300ms", d)
		}
	})
	t.Run("timeout gives 504 with curl", func(t *testing.T) {
		body, code := curl(t, g.url("/delay/2"))
		if code != 504 || !strings.Contains(body, "upstream request timeout") {
			t.Errorf("curl got %d %q, want 504 upstream request timeout", code, body)
		}
	})
}
