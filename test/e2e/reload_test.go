package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const reloadGateway = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["shop.example.com"]
`

// reloadBackends is one ServiceEntry per shop version, for the backends on ports v1 and v2.
func reloadBackends(v1, v2 int) string {
	return docs(
		staticEntry("v1", "shop", "v1.shop.internal", 80, "HTTP", v1),
		staticEntry("v2", "shop", "v2.shop.internal", 80, "HTTP", v2))
}

func reloadRoute(version string) string {
	return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: shop}
spec:
  hosts: [shop.example.com]
  gateways: [istio-system/edge]
  http:
  - route:
    - destination: {host: %s.shop.internal}
`, version)
}

// TestReloadUnderLoad rewrites the routes back and forth, and once with an invalid file, while
// clients keep sending requests: every request must succeed, and each rewrite must take effect.
func TestReloadUnderLoad(t *testing.T) {
	t.Parallel()
	v1, v2 := backend(t, "v1"), backend(t, "v2")
	dir := t.TempDir()
	writeFile(t, dir, "gateway.yaml", reloadGateway)
	writeFile(t, dir, "backends.yaml", reloadBackends(v1, v2))
	writeFile(t, dir, "route.yaml", reloadRoute("v1"))
	g := run(t, dir, 80)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 10 * time.Second}
	get := func() (string, error) {
		req, _ := http.NewRequest("GET", g.url("/headers"), nil)
		req.Host = "shop.example.com"
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return "", fmt.Errorf("status %d: %s", resp.StatusCode, body)
		}
		var e struct{ Backend string }
		if err := json.Unmarshal(body, &e); err != nil {
			return "", err
		}
		return e.Backend, nil
	}

	var (
		stop     atomic.Bool
		total    atomic.Int64
		failures atomic.Int64
		firstErr atomic.Value
		wg       sync.WaitGroup
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				total.Add(1)
				if _, err := get(); err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}

	// waitFor polls until the route serves version.
	waitFor := func(version string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if b, err := get(); err == nil && b == version {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("route did not switch to %s", version)
	}
	for i := range 10 {
		version := []string{"v2", "v1"}[i%2]
		writeFile(t, dir, "route.yaml", reloadRoute(version))
		waitFor(version)
		if i == 4 {
			// An invalid route is rejected; v2 (the last good route) keeps serving.
			writeFile(t, dir, "route.yaml", strings.Replace(reloadRoute("v1"), "hosts:", "hostz:", 1))
			deadline := time.Now().Add(20 * time.Second)
			for !strings.Contains(g.out.String(), "config rejected") {
				if time.Now().After(deadline) {
					t.Fatal("invalid config not reported")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if b, err := get(); err != nil || b != "v2" {
				t.Fatalf("last good config lost: %q %v", b, err)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d of %d requests failed during reloads; first: %v", n, total.Load(), firstErr.Load())
	}
	t.Logf("%d requests across 10 route rewrites, none failed", total.Load())
}
