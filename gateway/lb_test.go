package gateway

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func endpoints(weights ...uint32) []*Endpoint {
	var out []*Endpoint
	for i, w := range weights {
		out = append(out, &Endpoint{Address: fmt.Sprintf("10.0.0.%d:80", i+1), Weight: w})
	}
	return out
}

// TestPickShares: over many picks each balancer gives endpoints traffic in proportion to their
// weights; round robin exactly, the random ones within a wide tolerance.
func TestPickShares(t *testing.T) {
	t.Parallel()
	tests := []struct {
		policy    string
		weights   []uint32
		exact     bool
		wantShare []float64
	}{
		{policy: "ROUND_ROBIN", weights: []uint32{0, 0, 0}, exact: true, wantShare: []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}},
		{policy: "ROUND_ROBIN", weights: []uint32{3, 1}, exact: true, wantShare: []float64{0.75, 0.25}},
		{policy: "RANDOM", weights: []uint32{3, 1}, wantShare: []float64{0.75, 0.25}},
		{policy: "LEAST_REQUEST", weights: []uint32{1, 1}, wantShare: []float64{0.5, 0.5}},
		{policy: "LEAST_REQUEST", weights: []uint32{3, 1}, wantShare: []float64{0.75, 0.25}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.policy, tt.weights), func(t *testing.T) {
			t.Parallel()
			c := &Cluster{LoadBalancer: &LoadBalancer{Simple: tt.policy}, Endpoints: endpoints(tt.weights...)}
			c.finish()
			const n = 4000
			counts := map[*Endpoint]int{}
			for range n {
				counts[c.pick()]++
			}
			for i, e := range c.Endpoints {
				got := float64(counts[e]) / n
				tol := 0.08
				if tt.exact {
					tol = 0.001
				}
				if got < tt.wantShare[i]-tol || got > tt.wantShare[i]+tol {
					t.Errorf("endpoint %d share %.3f, want %.3f±%.3f", i, got, tt.wantShare[i], tol)
				}
			}
		})
	}
}

// TestHashRingStable: a ring built again from the same endpoints maps every key as before
// (what keeps sessions sticky across a reload), and removing one endpoint moves its keys while
// nearly all others stay.
func TestHashRingStable(t *testing.T) {
	t.Parallel()
	all := func(*Endpoint) bool { return true }
	a := newHashRing(endpoints(1, 1, 1), 0)
	b := newHashRing(endpoints(1, 1, 1), 0)
	fewer := newHashRing(endpoints(1, 1), 0)
	stayed, survivors := 0, 0
	for i := range 1000 {
		h := hash64(fmt.Sprint("user-", i))
		ea, eb := a.lookup(h, all), b.lookup(h, all)
		if ea.Address != eb.Address {
			t.Fatalf("key %d: %s then %s", i, ea.Address, eb.Address)
		}
		if ea.Address == "10.0.0.3:80" {
			continue
		}
		survivors++
		if fewer.lookup(h, all).Address == ea.Address {
			stayed++
		}
	}
	// The two survivors own more points on the smaller ring, so a few keys move between them.
	if stayed*100 < survivors*85 {
		t.Errorf("only %d of %d keys of the remaining endpoints stayed", stayed, survivors)
	}
}

// TestConsistentHash: through the gateway, requests with the same header, query parameter or
// cookie stick to one endpoint; a request without the cookie gets one generated (Set-Cookie
// with the DestinationRule's name, path and ttl) and sticks with it.
func TestConsistentHash(t *testing.T) {
	t.Parallel()
	var ports []string
	for i := range 4 {
		ports = append(ports, port(t, backend(t, fmt.Sprint("b", i))))
	}
	tests := []struct {
		name string
		hash string
		// send returns the request options for client number i.
		send func(i int) (path string, headers []string)
	}{
		{name: "header", hash: "{httpHeaderName: x-user}", send: func(i int) (string, []string) {
			return "/", []string{"X-User", fmt.Sprint("user-", i)}
		}},
		{name: "query parameter", hash: "{httpQueryParameterName: u}", send: func(i int) (string, []string) {
			return fmt.Sprint("/?u=user-", i), nil
		}},
		{name: "cookie", hash: "{httpCookie: {name: affinity, ttl: 0s}}", send: func(i int) (string, []string) {
			return "/", []string{"Cookie", fmt.Sprint("affinity=user-", i)}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			snap := snapshot(t, 1, edgeGateway, multiEntry("hash.internal", ports, nil), routeAllTo("hash.internal"),
				hashRule("hash.internal", tt.hash))
			g := startGateway(t, snap)
			client := newClient(t)
			seen := map[string]bool{}
			for i := range 20 {
				path, headers := tt.send(i)
				first := ""
				for range 5 {
					res, err := get(t, client, g.addr(t, 80), "hash.internal", path, headers...)
					if err != nil || res.code != http.StatusOK {
						t.Fatalf("%d %v", res.code, err)
					}
					if first == "" {
						first = res.body
					}
					if res.body != first {
						t.Fatalf("client %d went to %s, then %s", i, first, res.body)
					}
				}
				seen[first] = true
			}
			if len(seen) < 2 {
				t.Errorf("20 keys all went to %v: not spread", seen)
			}
		})
	}

	t.Run("generated cookie", func(t *testing.T) {
		t.Parallel()
		snap := snapshot(t, 1, edgeGateway, multiEntry("hash.internal", ports, nil), routeAllTo("hash.internal"),
			hashRule("hash.internal", "{httpCookie: {name: affinity, path: /, ttl: 90s}}"))
		g := startGateway(t, snap)
		client := newClient(t)
		res, err := get(t, client, g.addr(t, 80), "hash.internal", "/")
		if err != nil || res.code != http.StatusOK {
			t.Fatalf("%d %v", res.code, err)
		}
		sc := res.header.Get("Set-Cookie")
		if !strings.HasPrefix(sc, "affinity=") || !strings.Contains(sc, "Path=/") || !strings.Contains(sc, "Max-Age=90") {
			t.Fatalf("Set-Cookie %q, want affinity=...; Path=/; Max-Age=90", sc)
		}
		cookie := strings.SplitN(sc, ";", 2)[0]
		for range 10 {
			again, err := get(t, client, g.addr(t, 80), "hash.internal", "/", "Cookie", cookie)
			if err != nil || again.body != res.body {
				t.Fatalf("with the generated cookie: %q %v, want %q", again.body, err, res.body)
			}
			if again.header.Get("Set-Cookie") != "" {
				t.Fatalf("a request with the cookie got another: %q", again.header.Get("Set-Cookie"))
			}
		}
	})
}

// TestWeightedEndpoints: ServiceEntry endpoint weights 3:1 share traffic about 75/25.
func TestWeightedEndpoints(t *testing.T) {
	t.Parallel()
	heavy, light := backend(t, "heavy"), backend(t, "light")
	snap := snapshot(t, 1, edgeGateway, multiEntry("weighted.internal", []string{port(t, heavy), port(t, light)}, []int{3, 1}),
		routeAllTo("weighted.internal"))
	g := startGateway(t, snap)
	client := newClient(t)
	const n = 400
	counts := map[string]int{}
	for range n {
		res, err := get(t, client, g.addr(t, 80), "weighted.internal", "/")
		if err != nil {
			t.Fatal(err)
		}
		counts[res.body]++
	}
	if share := float64(counts["heavy"]) / n; share < 0.6 || share > 0.9 {
		t.Errorf("heavy endpoint got %.2f of requests (%v), want about 0.75", share, counts)
	}
}

func hashRule(host, hash string) string {
	return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: hash, namespace: istio-system}
spec:
  host: %s
  trafficPolicy:
    loadBalancer:
      consistentHash: %s
`, host, hash)
}
