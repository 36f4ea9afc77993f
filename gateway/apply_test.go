package gateway

import (
	"strings"
	"testing"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// TestApplyRefusesCompileErrors: a snapshot that slipped past validation with a regex RE2
// rejects is refused whole, and the previous Table keeps serving.
func TestApplyRefusesCompileErrors(t *testing.T) {
	t.Parallel()
	a := backend(t, "a")
	good := snapshot(t, 1, edgeGateway, staticEntry("a", "a.internal", port(t, a)), routeTo("a.internal"))
	g := startGateway(t, good)

	bad := &policy.Resource{
		Kind: policy.KindVirtualService, Name: "bad", Namespace: "istio-system",
		Spec: &networking.VirtualService{
			Hosts:    []string{"*"},
			Gateways: []string{"edge"},
			Http: []*networking.HTTPRoute{{
				Match: []*networking.HTTPMatchRequest{{Uri: regex("(")}},
				Route: []*networking.HTTPRouteDestination{{Destination: &networking.Destination{Host: "a.internal"}}},
			}},
		},
	}
	var rs []*policy.Resource
	for _, r := range good.Resources() {
		if r.Kind != policy.KindVirtualService {
			rs = append(rs, r)
		}
	}
	err := g.Apply(policy.NewSnapshot(2, append(rs, bad), nil, nil, nil, nil))
	if err == nil || !strings.Contains(err.Error(), "VirtualService/istio-system/bad: spec.http[0].match[0].uri") {
		t.Fatalf("Apply = %v, want an error naming the bad uri regex", err)
	}
	if g.Table().Version != 1 {
		t.Errorf("Table version = %d after a refused snapshot, want 1", g.Table().Version)
	}
	if res, err := get(t, newClient(t), g.addr(t, 80), "x", "/"); err != nil || res.body != "a" {
		t.Errorf("after a refused snapshot: %q (%v), want a", res.body, err)
	}
}

func TestRouteTimeout(t *testing.T) {
	t.Parallel()
	slow, _, _ := slowBackend(t)
	g := startGateway(t, snapshot(t, 1, edgeGateway, staticEntry("slow", "slow.internal", port(t, slow)), `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: slow, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
  - timeout: 50ms
    route: [{destination: {host: slow.internal}}]
`))
	res, err := get(t, newClient(t), g.addr(t, 80), "x", "/")
	if err != nil || res.code != 504 || res.body != bodyUpstreamTimeout {
		t.Errorf("request past the route timeout = %d %q (%v), want 504 %q", res.code, res.body, err, bodyUpstreamTimeout)
	}
}

func TestHTTPSRedirectServer(t *testing.T) {
	t.Parallel()
	g := startGateway(t, snapshot(t, 1, `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["shop.example.com"]
    tls: {httpsRedirect: true}
`))
	res, err := get(t, newClient(t), g.addr(t, 80), "shop.example.com", "/cart?id=1")
	if err != nil || res.code != 301 || res.header.Get("Location") != "https://shop.example.com/cart?id=1" {
		t.Errorf("httpsRedirect = %d %q (%v), want 301 to https://shop.example.com/cart?id=1", res.code, res.header.Get("Location"), err)
	}
}
