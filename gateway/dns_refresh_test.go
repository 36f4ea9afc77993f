package gateway

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	meshconfig "istio.io/api/mesh/v1alpha1"
)

func TestDNSRefreshRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mesh *meshconfig.MeshConfig
		want time.Duration
	}{
		{"no mesh config: Istio's default", nil, 60 * time.Second},
		{"unset", &meshconfig.MeshConfig{}, 60 * time.Second},
		{"set", &meshconfig.MeshConfig{DnsRefreshRate: durationpb.New(30 * time.Second)}, 30 * time.Second},
		{"below the floor", &meshconfig.MeshConfig{DnsRefreshRate: durationpb.New(100 * time.Millisecond)}, time.Second},
		{"zero", &meshconfig.MeshConfig{DnsRefreshRate: durationpb.New(0)}, 60 * time.Second},
		{"negative", &meshconfig.MeshConfig{DnsRefreshRate: durationpb.New(-time.Second)}, 60 * time.Second},
	}
	for _, tc := range tests {
		if got := dnsRefreshRate(tc.mesh); got != tc.want {
			t.Errorf("%s: dnsRefreshRate = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// countingResolver counts lookups of one name.
type countingResolver struct {
	fakeResolver
	host    string
	lookups atomic.Int64
}

func (c *countingResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if host == c.host {
		c.lookups.Add(1)
	}
	return c.fakeResolver.LookupNetIP(ctx, network, host)
}

const dnsServiceEntry = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: istio-system}
spec:
  hosts: [api.test]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: istio-system}
spec:
  hosts: [api.test]
  gateways: [edge]
  http:
  - route: [{destination: {host: api.test}}]
`

// TestDNSRefreshFollowsMeshConfig: a reload that sets dnsRefreshRate changes the period of the
// running refresher. Under the 60s default only the reload's own kick resolves; with 1s the
// ticker keeps resolving, which the test waits for (polling, no fixed sleep).
func TestDNSRefreshFollowsMeshConfig(t *testing.T) {
	t.Parallel()
	r := &countingResolver{host: "api.test"}
	r.set("api.test", "127.0.0.1")
	g := newTestGateway(t, map[uint32]uint32{80: 0})
	g.dns.resolver = r
	if err := g.Apply(snapshot(t, 1, edgeGateway, dnsServiceEntry)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first resolution", func() bool { return r.lookups.Load() >= 1 })
	if p := g.dns.period(); p != 60*time.Second {
		t.Errorf("period %v without dnsRefreshRate, want Istio's 60s", p)
	}

	mesh := `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    dnsRefreshRate: 1s
`
	if err := g.Apply(snapshot(t, 2, edgeGateway, dnsServiceEntry, mesh)); err != nil {
		t.Fatal(err)
	}
	if p := g.dns.period(); p != time.Second {
		t.Errorf("period %v after the reload, want 1s", p)
	}
	before := r.lookups.Load()
	// The reload's kick is one lookup; two more can only come from the new period's ticks.
	eventually(t, "re-resolution on the new period", func() bool { return r.lookups.Load() >= before+3 })
}
