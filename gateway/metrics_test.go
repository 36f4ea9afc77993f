package gateway

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
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
	// A response can reach the client just before the handler records it.
	eventually(t, "request counts", func() bool {
		return testutil.CollectAndCount(g.metrics.requests) == 4 && testutil.ToFloat64(g.metrics.requests.WithLabelValues(istioSeries("api.internal", "istio-system", "200", "-")...)) == 2
	})
	for _, name := range []string{"istio_request_duration_milliseconds", "istio_request_bytes", "istio_response_bytes"} {
		if n, err := testutil.GatherAndCount(g.reg, name); err != nil || n != 4 {
			t.Errorf("%s series = %d (%v), want 4", name, n, err)
		}
	}
	problems, err := testutil.GatherAndLint(g.reg)
	// Istio's name says milliseconds; dashboards query it by that name.
	problems = slices.DeleteFunc(problems, func(p promlint.Problem) bool { return p.Metric == "istio_request_duration_milliseconds" })
	if err != nil || len(problems) > 0 {
		t.Errorf("metric lint: %v %v", problems, err)
	}
	const fixed = `grpc_response_status="",reporter="source",request_protocol="http",`
	const source = `source_workload="istio-ingressgateway",source_workload_namespace="istio-system"`
	expected := `
# HELP istio_requests_total Requests the gateway served (Istio standard metric; response_code 0: the client went away first).
# TYPE istio_requests_total counter
istio_requests_total{connection_security_policy="unknown",destination_service="api.internal",destination_service_name="api.internal",destination_service_namespace="istio-system",destination_workload="unknown",destination_workload_namespace="unknown",` + fixed + `response_code="200",response_flags="-",` + source + `} 2
istio_requests_total{connection_security_policy="unknown",destination_service="dead.internal",destination_service_name="dead.internal",destination_service_namespace="istio-system",destination_workload="unknown",destination_workload_namespace="unknown",` + fixed + `response_code="503",response_flags="UF,URX",` + source + `} 1
istio_requests_total{connection_security_policy="unknown",destination_service="unknown",destination_service_name="unknown",destination_service_namespace="unknown",destination_workload="unknown",destination_workload_namespace="unknown",` + fixed + `response_code="404",response_flags="NR",` + source + `} 1
istio_requests_total{connection_security_policy="unknown",destination_service="unknown",destination_service_name="unknown",destination_service_namespace="unknown",destination_workload="unknown",destination_workload_namespace="unknown",` + fixed + `response_code="418",response_flags="-",` + source + `} 1
`
	if err := testutil.GatherAndCompare(g.reg, strings.NewReader(expected), "istio_requests_total"); err != nil {
		t.Error(err)
	}
}

// istioSeries returns the istioLabels values of an HTTP request to host at this gateway.
func istioSeries(host, namespace, code, flags string) []string {
	return []string{"source", "istio-ingressgateway", "istio-system", host, host, namespace, "unknown", "unknown", "http", code, "", flags, "unknown"}
}

func TestServiceName(t *testing.T) {
	t.Parallel()
	tests := []struct{ host, serviceEntry, name, namespace string }{
		{"reviews.shop.svc.cluster.local", "", "reviews", "shop"},
		{"reviews.shop.svc", "", "reviews.shop.svc", "unknown"},
		{"api.example.com", "egress/api", "api.example.com", "egress"},
		{"api.example.com", "", "api.example.com", "unknown"},
	}
	for _, tc := range tests {
		if name, ns := serviceName(tc.host, tc.serviceEntry); name != tc.name || ns != tc.namespace {
			t.Errorf("serviceName(%q, %q) = %q, %q; want %q, %q", tc.host, tc.serviceEntry, name, ns, tc.name, tc.namespace)
		}
	}
}

func TestGRPCStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header http.Header
		want   int8
	}{
		{http.Header{"Grpc-Status": {"14"}}, 14},
		{http.Header{http.TrailerPrefix + "Grpc-Status": {"0"}}, 0},
		{http.Header{"Grpc-Status": {"99"}}, -1},
		{http.Header{"Grpc-Status": {"x"}}, -1},
		{http.Header{}, -1},
	}
	for _, tc := range tests {
		if got := grpcStatus(tc.header); got != tc.want {
			t.Errorf("grpcStatus(%v) = %d, want %d", tc.header, got, tc.want)
		}
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
