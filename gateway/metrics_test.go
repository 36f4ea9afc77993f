package gateway

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetrics(t *testing.T) {
	t.Parallel()
	web, api, canary := backend(t, "web"), backend(t, "api"), backend(t, "canary")
	g := startGateway(t, snapshot(t, 1, routingConfig(t, port(t, web), port(t, api), port(t, canary))...))
	addr := g.addr(t, 80)
	client := newClient(t)
	for _, path := range []string{"/api/a", "/api/b", "/nope", "/dead", "/teapot"} {
		if _, err := get(t, client, addr, "shop.example.com", path); err != nil {
			t.Fatal(err)
		}
	}
	want := map[[2]string]float64{
		{"istio-system/shop/api", "200"}:    2,
		{"NR", "404"}:                       1,
		{"istio-system/shop/dead", "503"}:   1,
		{"istio-system/shop/teapot", "418"}: 1,
	}
	// A response can reach the client just before the handler records it.
	eventually(t, "request counts", func() bool {
		for labels, n := range want {
			if testutil.ToFloat64(g.metrics.requests.WithLabelValues(labels[0], labels[1])) != n {
				return false
			}
		}
		return true
	})
	if n := testutil.CollectAndCount(g.metrics.duration); n != len(want) {
		t.Errorf("duration series = %d, want %d", n, len(want))
	}
	if n, err := testutil.GatherAndCount(g.reg, "gatehouse_requests_total", "gatehouse_request_duration_seconds"); err != nil || n != 2*len(want) {
		t.Errorf("registered series = %d (%v), want %d", n, err, 2*len(want))
	}
	problems, err := testutil.GatherAndLint(g.reg)
	if err != nil || len(problems) > 0 {
		t.Errorf("metric lint: %v %v", problems, err)
	}
	expected := `
# HELP gatehouse_requests_total Requests served by the gateway, by route (namespace/virtualservice/route, NR for no route) and status code (0: the client went away first).
# TYPE gatehouse_requests_total counter
gatehouse_requests_total{code="200",route="istio-system/shop/api"} 2
gatehouse_requests_total{code="404",route="NR"} 1
gatehouse_requests_total{code="418",route="istio-system/shop/teapot"} 1
gatehouse_requests_total{code="503",route="istio-system/shop/dead"} 1
`
	if err := testutil.GatherAndCompare(g.reg, strings.NewReader(expected), "gatehouse_requests_total"); err != nil {
		t.Error(err)
	}
}

func TestMetricsShareRegistry(t *testing.T) {
	t.Parallel()
	a := newTestGateway(t, nil)
	b := New(Options{Registerer: a.reg})
	if a.metrics.requests != b.metrics.requests {
		t.Error("a second Gateway on one registry did not reuse the registered collectors")
	}
}
