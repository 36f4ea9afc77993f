package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		pool     *ConnectionPool
		protocol string
		// held requests are taken (and kept) first; then one more tries with a cancelled context.
		held     int
		wantNil  bool
		wantLast error
	}{
		{name: "no pool", pool: nil, wantNil: true},
		{name: "only timeouts", pool: &ConnectionPool{ConnectTimeout: Duration(1)}, wantNil: true},
		{name: "HTTP/1.1 over maxConnections queues", pool: &ConnectionPool{MaxConnections: 1, MaxPendingRequests: 1}, held: 1, wantLast: context.Canceled},
		{name: "HTTP/1.1 over pending overflows", pool: &ConnectionPool{MaxConnections: 1, MaxPendingRequests: 1}, held: 2, wantLast: errOverflow},
		{name: "http2MaxRequests caps HTTP/1.1 too", pool: &ConnectionPool{MaxConnections: 5, MaxRequests: 1, MaxPendingRequests: 1}, held: 2, wantLast: errOverflow},
		{name: "HTTP/2 ignores maxConnections", pool: &ConnectionPool{MaxConnections: 1}, protocol: "HTTP2", wantNil: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLimiter(tt.pool, tt.protocol)
			if (l == nil) != tt.wantNil {
				t.Fatalf("limiter %v, want nil %v", l, tt.wantNil)
			}
			if l == nil {
				return
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var releases []func()
			for i := range tt.held {
				if i < cap(l.slots) {
					r, err := l.acquire(context.Background())
					if err != nil {
						t.Fatal(err)
					}
					releases = append(releases, r)
					continue
				}
				// A waiter in the pending queue.
				l.waiting.Add(1)
				defer l.waiting.Add(-1)
			}
			if _, err := l.acquire(ctx); !errors.Is(err, tt.wantLast) {
				t.Errorf("acquire: %v, want %v", err, tt.wantLast)
			}
			for _, r := range releases {
				r()
			}
			r, err := l.acquire(context.Background())
			if err != nil {
				t.Fatalf("after release: %v", err)
			}
			r()
		})
	}
}

// TestPoolOverflow: with maxConnections 1 and http1MaxPendingRequests 1, a third concurrent
// request is refused at once with 503 and x-envoy-overloaded, as Envoy's circuit breaker does,
// while the first two are served.
func TestPoolOverflow(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 3)
	unblock := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-unblock
		_, _ = w.Write([]byte("slow"))
	}))
	t.Cleanup(up.Close)
	release := sync.OnceFunc(func() { close(unblock) })
	t.Cleanup(release)
	snap := snapshot(t, 1, edgeGateway, staticEntry("slow", "slow.internal", port(t, up)), routeAllTo("slow.internal"),
		`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: slow, namespace: istio-system}
spec:
  host: slow.internal
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 1}
      http: {http1MaxPendingRequests: 1}
`)
	g := startGateway(t, snap)
	client := newClient(t)
	addr := g.addr(t, 80)
	type result struct {
		res response
		err error
	}
	results := make(chan result, 2)
	send := func() {
		res, err := get(t, client, addr, "slow.internal", "/")
		results <- result{res, err}
	}
	go send()
	<-arrived
	go send()
	cl := clusterNamed(t, g.Table(), "outbound|80||slow.internal")
	eventually(t, "a pending request", func() bool {
		rt := cl.runtime.Load()
		return rt != nil && rt.limiter.waiting.Load() == 1
	})
	res, err := get(t, client, addr, "slow.internal", "/")
	if err != nil {
		t.Fatal(err)
	}
	if res.code != http.StatusServiceUnavailable || res.header.Get("X-Envoy-Overloaded") != "true" {
		t.Errorf("third request: %d %q overloaded=%q, want 503 with x-envoy-overloaded: true", res.code, res.body, res.header.Get("X-Envoy-Overloaded"))
	}
	release()
	for range 2 {
		r := <-results
		if r.err != nil || r.res.code != http.StatusOK {
			t.Errorf("queued request: %d %v, want 200", r.res.code, r.err)
		}
	}
}

func clusterNamed(t *testing.T, tb *Table, name string) *Cluster {
	t.Helper()
	for _, c := range tb.Clusters {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no cluster %s", name)
	return nil
}

// multiEntry is a STATIC ServiceEntry for host with one loopback endpoint per port, labelled
// with its index and weighted as given (0: unset).
func multiEntry(host string, ports []string, weights []int) string {
	s := fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: %s, namespace: istio-system}
spec:
  hosts: [%s]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
`, "multi-"+host, host)
	for i, p := range ports {
		w := ""
		if i < len(weights) && weights[i] > 0 {
			w = fmt.Sprintf(", weight: %d", weights[i])
		}
		s += fmt.Sprintf("  - {address: 127.0.0.1, ports: {http: %s}, labels: {index: %q}%s}\n", p, fmt.Sprint(i), w)
	}
	return s
}
