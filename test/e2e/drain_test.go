package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSIGTERMDrains: a request in flight when SIGTERM arrives completes; readiness fails at once
// so load balancers stop sending; the process then exits cleanly.
func TestSIGTERMDrains(t *testing.T) {
	t.Parallel()
	v1 := backend(t, "v1")
	dir := t.TempDir()
	writeFile(t, dir, "gateway.yaml", reloadGateway)
	writeFile(t, dir, "backends.yaml", reloadBackends(v1, v1))
	writeFile(t, dir, "route.yaml", reloadRoute("v1"))
	g := run(t, dir, 80)

	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("GET", g.url("/delay/2"), nil)
		req.Host = "shop.example.com"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		resp.Body.Close()
		done <- result{code: resp.StatusCode}
	}()

	// Wait until the gateway has the request in flight.
	stats := fmt.Sprintf("http://127.0.0.1:%d/stats/prometheus", g.stats)
	deadline := time.Now().Add(20 * time.Second)
	for {
		body, _ := curl(t, stats)
		if strings.Contains(body, "gatehouse_downstream_requests_active 1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("request never in flight")
		}
		time.Sleep(10 * time.Millisecond)
	}

	exited := make(chan error, 1)
	go func() { exited <- g.stop() }()

	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/healthz/ready", g.status), 503)
	r := <-done
	if r.err != nil || r.code != 200 {
		t.Fatalf("in-flight request: code %d err %v", r.code, r.err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("gatehouse did not exit after draining")
	}
}
