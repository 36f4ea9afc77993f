package gateway

import (
	"slices"
	"strings"
	"testing"
)

// TestMeshTLSCompile: which clusters get ISTIO_MUTUAL, and the warnings where it cannot work.
func TestMeshTLSCompile(t *testing.T) {
	t.Parallel()
	const labelled = "security.istio.io/tlsMode: istio"
	tcpGateway := tlsGatewayDoc(`  - port: {number: 9000, name: tcp, protocol: TCP}
    hosts: ["*"]
`)
	tcpRoute := `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-tcp, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  tcp: [{route: [{destination: {host: reviews.apps.svc.cluster.local, port: {number: 8080}}}]}]
`
	autoOff := `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    enableAutoMtls: false
`
	tests := []struct {
		name     string
		docs     []string
		wantTLS  string // "" none, else "auto" or "dr"
		wantWarn string
		// wantL4ALPN is what a tcp route offers (Istio's cluster ALPN, no HTTP override).
		wantL4ALPN []string
	}{
		{name: "auto mTLS for labelled endpoints", docs: []string{edgeGateway, meshEntry("HTTP", "8080", "reviews", labelled), reviewsRoute}, wantTLS: "auto"},
		{name: "no label, no mTLS", docs: []string{edgeGateway, meshEntry("HTTP", "8080", "reviews", ""), reviewsRoute}},
		{name: "enableAutoMtls false", docs: []string{autoOff, edgeGateway, meshEntry("HTTP", "8080", "reviews", labelled), reviewsRoute}},
		{name: "DestinationRule ISTIO_MUTUAL", docs: []string{edgeGateway, meshEntry("HTTP", "8080", "reviews", ""), reviewsRoute, reviewsIstioMutual}, wantTLS: "dr"},
		{name: "tcp route to ISTIO_MUTUAL", docs: []string{tcpGateway, meshEntry("TCP", "8080", "reviews", ""), tcpRoute, reviewsIstioMutual},
			wantTLS: "dr", wantL4ALPN: []string{"istio-peer-exchange", "istio"}},
		{name: "tcp route to labelled endpoints", docs: []string{tcpGateway, meshEntry("TCP", "8080", "reviews", labelled), tcpRoute},
			wantTLS: "auto", wantL4ALPN: []string{"istio-peer-exchange", "istio"}},
		{name: "tcp route to an HTTP2 port adds h2", docs: []string{tcpGateway, meshEntry("GRPC", "8080", "reviews", ""), tcpRoute, reviewsIstioMutual},
			wantTLS: "dr", wantL4ALPN: []string{"istio-peer-exchange", "istio", "h2"}},
		{name: "tcp route without label or DestinationRule", docs: []string{tcpGateway, meshEntry("TCP", "8080", "reviews", ""), tcpRoute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			table, problems := Compile(snapshot(t, 1, tt.docs...), CompileOptions{})
			var cl *Cluster
			for _, c := range table.Clusters {
				if strings.HasSuffix(c.Name, "reviews.apps.svc.cluster.local") {
					cl = c
				}
			}
			if cl == nil {
				t.Fatalf("no reviews cluster in %v", table.Clusters)
			}
			switch got := cl.TLS; {
			case tt.wantTLS == "" && got != nil:
				t.Errorf("TLS %+v, want none", *got)
			case tt.wantTLS != "" && (got == nil || got.Mode != modeIstioMutual || got.Auto != (tt.wantTLS == "auto")):
				t.Errorf("TLS %+v, want ISTIO_MUTUAL (%s)", got, tt.wantTLS)
			}
			if tt.wantL4ALPN != nil && (cl.l4TLS == nil || !slices.Equal(cl.l4TLS.ALPN, tt.wantL4ALPN)) {
				t.Errorf("tcp route TLS %+v, want ALPN %q", cl.l4TLS, tt.wantL4ALPN)
			}
			var warned []string
			for _, p := range problems {
				warned = append(warned, p.String())
				if strings.Contains(p.Reason, "not yet supported") || strings.Contains(p.Reason, "not supported yet") || strings.Contains(p.Reason, "plaintext") {
					t.Errorf("stale warning: %s", p)
				}
			}
			if tt.wantWarn != "" && !slices.ContainsFunc(warned, func(s string) bool { return strings.Contains(s, tt.wantWarn) }) {
				t.Errorf("problems %q lack %q", warned, tt.wantWarn)
			}
		})
	}
}

func TestWithTrustDomains(t *testing.T) {
	t.Parallel()
	got := withTrustDomains([]string{"spiffe://cluster.local/ns/a/sa/b", "dns.example"}, []string{"cluster.local", "old.example"})
	want := []string{"dns.example", "spiffe://cluster.local/ns/a/sa/b", "spiffe://old.example/ns/a/sa/b"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := meshSNI(8080, "", "reviews.default.svc.cluster.local"); got != "outbound_.8080_._.reviews.default.svc.cluster.local" {
		t.Errorf("meshSNI = %q", got)
	}
}
