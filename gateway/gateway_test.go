package gateway

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// routingConfig routes shop.example.com by path and header to three backends, and has routes
// whose upstreams are missing, empty or dead.
func routingConfig(t *testing.T, web, api, canary string) []string {
	t.Helper()
	return []string{
		edgeGateway,
		staticEntry("web", "web.internal", web),
		staticEntry("api", "api.internal", api),
		staticEntry("canary", "canary.internal", canary),
		staticEntry("dead", "dead.internal", deadPort(t)),
		`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: empty, namespace: istio-system}
spec:
  hosts: [empty.internal]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
`,
		`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: istio-system}
spec:
  hosts: [shop.example.com]
  gateways: [edge]
  http:
  - name: canary
    match: [{headers: {x-canary: {exact: "yes"}}}]
    route: [{destination: {host: canary.internal}}]
  - name: api
    match: [{uri: {prefix: /api/}}]
    route: [{destination: {host: api.internal}}]
  - name: missing
    match: [{uri: {prefix: /missing}}]
    route: [{destination: {host: nowhere.internal}}]
  - name: empty
    match: [{uri: {prefix: /empty}}]
    route: [{destination: {host: empty.internal}}]
  - name: dead
    match: [{uri: {prefix: /dead}}]
    route: [{destination: {host: dead.internal}}]
  - name: moved
    match: [{uri: {exact: /old}}]
    redirect: {uri: /new}
  - name: teapot
    match: [{uri: {exact: /teapot}}]
    directResponse: {status: 418, body: {string: "short and stout"}}
  - name: web
    match: [{uri: {prefix: /web}}, {uri: {exact: /}}]
    route: [{destination: {host: web.internal}}]
`,
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	web, api, canary := backend(t, "web"), backend(t, "api"), backend(t, "canary")
	g := startGateway(t, snapshot(t, 1, routingConfig(t, port(t, web), port(t, api), port(t, canary))...))
	addr := g.addr(t, 80)
	client := newClient(t)

	tests := []struct {
		name     string
		host     string
		path     string
		headers  []string
		code     int
		body     string
		location string
	}{
		{name: "path prefix", host: "shop.example.com", path: "/api/items", code: 200, body: "api"},
		{name: "host port and case ignored", host: "SHOP.example.com:8080", path: "/web/x", code: 200, body: "web"},
		{name: "header wins by order", host: "shop.example.com", path: "/api/items", headers: []string{"X-Canary", "yes"}, code: 200, body: "canary"},
		{name: "exact root", host: "shop.example.com", path: "/", code: 200, body: "web"},
		{name: "unmatched path is NR", host: "shop.example.com", path: "/nope", code: 404},
		{name: "unmatched host is NR", host: "other.example.com", path: "/web", code: 404},
		{name: "no ServiceEntry is NC", host: "shop.example.com", path: "/missing", code: 503},
		{name: "no endpoints", host: "shop.example.com", path: "/empty", code: 503, body: bodyNoHealthyUpstream},
		{name: "dead upstream", host: "shop.example.com", path: "/dead", code: 503, body: bodyConnectFailure},
		{name: "redirect", host: "shop.example.com", path: "/old?q=1", code: 301, location: "http://shop.example.com/new?q=1"},
		{name: "direct response", host: "shop.example.com", path: "/teapot", code: 418, body: "short and stout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := get(t, client, addr, tt.host, tt.path, tt.headers...)
			if err != nil {
				t.Fatal(err)
			}
			if res.code != tt.code || res.body != tt.body {
				t.Errorf("%s %s = %d %q, want %d %q", tt.host, tt.path, res.code, res.body, tt.code, tt.body)
			}
			if got := res.header.Get("Location"); got != tt.location {
				t.Errorf("Location = %q, want %q", got, tt.location)
			}
		})
	}
}

func TestForwardedHeaders(t *testing.T) {
	t.Parallel()
	web := backend(t, "web")
	g := startGateway(t, snapshot(t, 1, edgeGateway, staticEntry("web", "web.internal", port(t, web)), `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
  - name: rewritten
    match: [{uri: {prefix: /v1/}}]
    rewrite: {uri: /, authority: web.internal}
    headers: {request: {set: {x-gateway: gatehouse}}}
    route: [{destination: {host: web.internal}}]
  - route: [{destination: {host: web.internal}}]
`))
	addr := g.addr(t, 80)
	client := newClient(t)

	res, err := get(t, client, addr, "shop.example.com", "/a%2Fb?x=1", "X-Forwarded-For", "203.0.113.7", "X-Forwarded-Proto", "https")
	if err != nil {
		t.Fatal(err)
	}
	for h, want := range map[string]string{
		"X-Seen-Host":            "shop.example.com",
		"X-Seen-Path":            "/a%2Fb?x=1",
		"X-Seen-Forwarded-For":   "203.0.113.7,127.0.0.1",
		"X-Seen-Forwarded-Proto": "http",
	} {
		if got := res.header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if id := res.header.Get("X-Seen-Request-Id"); len(id) != 36 {
		t.Errorf("generated x-request-id = %q, want a UUID", id)
	}

	res, err = get(t, client, addr, "shop.example.com", "/v1/items", "X-Request-Id", "given")
	if err != nil {
		t.Fatal(err)
	}
	for h, want := range map[string]string{
		"X-Seen-Host":       "web.internal",
		"X-Seen-Path":       "/items",
		"X-Seen-Request-Id": "given",
	} {
		if got := res.header.Get(h); got != want {
			t.Errorf("rewritten %s = %q, want %q", h, got, want)
		}
	}
}

func TestWeightedSplit(t *testing.T) {
	t.Parallel()
	v1, v2 := backend(t, "v1"), backend(t, "v2")
	g := startGateway(t, snapshot(t, 1, edgeGateway,
		staticEntry("v1", "v1.internal", port(t, v1)),
		staticEntry("v2", "v2.internal", port(t, v2)),
		`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: split, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
  - route:
    - {destination: {host: v1.internal}, weight: 50}
    - {destination: {host: v2.internal}, weight: 50}
`))
	addr := g.addr(t, 80)
	client := newClient(t)
	counts := map[string]int{}
	for range 200 {
		res, err := get(t, client, addr, "any.example.com", "/")
		if err != nil {
			t.Fatal(err)
		}
		counts[res.body]++
	}
	// Only the shape is asserted: both versions get traffic, nothing else does.
	if counts["v1"] == 0 || counts["v2"] == 0 || counts["v1"]+counts["v2"] != 200 {
		t.Errorf("split = %v, want both v1 and v2", counts)
	}
}

func TestLeastRequestAcrossEndpoints(t *testing.T) {
	t.Parallel()
	a, b := backend(t, "a"), backend(t, "b")
	// One ServiceEntry, two endpoints on different ports via the endpoints' port map.
	g := startGateway(t, snapshot(t, 1, edgeGateway, fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: pool, namespace: istio-system}
spec:
  hosts: [pool.internal]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
  - {address: 127.0.0.1, ports: {http: %s}}
  - {address: 127.0.0.1, ports: {http: %s}}
`, port(t, a), port(t, b)), `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: pool, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
  - route: [{destination: {host: pool.internal}}]
`))
	addr := g.addr(t, 80)
	client := newClient(t)
	seen := map[string]bool{}
	for range 50 {
		res, err := get(t, client, addr, "x", "/")
		if err != nil {
			t.Fatal(err)
		}
		seen[res.body] = true
	}
	if !seen["a"] || !seen["b"] {
		t.Errorf("endpoints used: %v, want both", seen)
	}
}

func TestH2C(t *testing.T) {
	t.Parallel()
	// An upstream that speaks only HTTP/2 without TLS, as a gRPC server does.
	h2 := new(http.Protocols)
	h2.SetUnencryptedHTTP2(true)
	up := httptest.NewUnstartedServer(echo("grpc"))
	up.Config.Protocols = h2
	up.Start()
	t.Cleanup(up.Close)
	g := startGateway(t, snapshot(t, 1, edgeGateway, strings.Replace(staticEntry("grpc", "grpc.internal", port(t, up)), "protocol: HTTP,", "protocol: GRPC,", 1), `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: grpc, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
  - route: [{destination: {host: grpc.internal}}]
`))
	tr := &http.Transport{Protocols: h2}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	res, err := get(t, client, g.addr(t, 80), "grpc.example.com", "/pkg.Service/Method")
	if err != nil {
		t.Fatal(err)
	}
	if res.code != 200 || res.body != "grpc" || res.header.Get("X-Seen-Proto") != "HTTP/2.0" {
		t.Errorf("h2c through the gateway = %d %q via %s, want 200 grpc via HTTP/2.0", res.code, res.body, res.header.Get("X-Seen-Proto"))
	}
}

func mustListen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
