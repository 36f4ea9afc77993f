package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// fakeResolver answers from a map the test changes; a name missing from it fails.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][]netip.Addr
}

func (f *fakeResolver) set(host string, addrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.answers == nil {
		f.answers = map[string][]netip.Addr{}
	}
	if addrs == nil {
		delete(f.answers, host)
		return
	}
	var as []netip.Addr
	for _, a := range addrs {
		as = append(as, netip.MustParseAddr(a))
	}
	f.answers[host] = as
}

func (f *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if as, ok := f.answers[host]; ok {
		return slices.Clone(as), nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func newTestDNSCluster(resolution string, od *OutlierDetection, addrs ...string) *Cluster {
	c := &Cluster{Name: "outbound|80||svc.test", Resolution: resolution, Protocol: "HTTP", OutlierDetection: od,
		LoadBalancer: &LoadBalancer{Simple: "ROUND_ROBIN"}}
	for _, a := range addrs {
		c.Endpoints = append(c.Endpoints, &Endpoint{Address: a})
	}
	c.finish()
	return c
}

// picked is the set of addresses pick returns over n picks; "" for a nil pick.
func picked(c *Cluster, n int) []string {
	seen := map[string]bool{}
	for range n {
		if ep := c.pick(); ep != nil {
			seen[ep.Address] = true
		} else {
			seen[""] = true
		}
	}
	out := make([]string, 0, len(seen))
	for a := range seen {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// TestDNSRefresh: a DNS cluster balances over every address its names resolve to, picks up a
// new answer without a recompile, keeps the last good answer when a lookup fails, and has no
// endpoint (503 "no healthy upstream") for a name that never resolved. Each is one log line.
func TestDNSRefresh(t *testing.T) {
	t.Parallel()
	type step struct {
		answer []string // nil: the lookup fails
		want   []string
	}
	tests := []struct {
		name     string
		addrs    []string
		steps    []step
		wantLogs map[string]int
	}{
		{
			name:  "answers change",
			addrs: []string{"svc.test:80"},
			steps: []step{
				{answer: []string{"10.0.0.2", "10.0.0.1"}, want: []string{"10.0.0.1:80", "10.0.0.2:80"}},
				{answer: []string{"10.0.0.3"}, want: []string{"10.0.0.3:80"}},
			},
		},
		{
			name:  "failure keeps the last good answer",
			addrs: []string{"svc.test:80"},
			steps: []step{
				{answer: []string{"10.0.0.1"}, want: []string{"10.0.0.1:80"}},
				{want: []string{"10.0.0.1:80"}},
				{want: []string{"10.0.0.1:80"}},
				{answer: []string{"10.0.0.4"}, want: []string{"10.0.0.4:80"}},
			},
			wantLogs: map[string]int{"re-resolution failed": 1},
		},
		{
			name:     "never resolved",
			addrs:    []string{"svc.test:80"},
			steps:    []step{{want: []string{""}}, {want: []string{""}}},
			wantLogs: map[string]int{"does not resolve": 1},
		},
		{
			name:  "IP endpoints beside names",
			addrs: []string{"10.9.9.9:81", "svc.test:80"},
			steps: []step{{want: []string{"10.9.9.9:81"}}, {answer: []string{"10.0.0.1"}, want: []string{"10.0.0.1:80", "10.9.9.9:81"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs lockedBuffer
			u := newUpstream(policy.UpstreamSettings{}, slog.New(slog.NewTextHandler(&logs, nil)), nil, nil)
			c := newTestDNSCluster("DNS", nil, tt.addrs...)
			u.bind(&Table{Clusters: []*Cluster{c}})
			r := &fakeResolver{}
			for i, s := range tt.steps {
				r.set("svc.test", s.answer...)
				u.refreshDNS(t.Context(), r)
				if got := picked(c, 20); !slices.Equal(got, s.want) {
					t.Errorf("step %d: picked %v, want %v", i, got, s.want)
				}
			}
			for msg, n := range tt.wantLogs {
				if got := strings.Count(logs.b.String(), msg); got != n {
					t.Errorf("%d log lines with %q, want %d:\n%s", got, msg, n, logs.b.String())
				}
			}
		})
	}
}

// TestDNSRoundRobin: a DNS_ROUND_ROBIN cluster is one logical endpoint, the name, whose new
// connections go to the answer's addresses in turn, and follow a new answer.
func TestDNSRoundRobin(t *testing.T) {
	t.Parallel()
	u := newUpstream(policy.UpstreamSettings{}, slog.New(slog.DiscardHandler), nil, nil)
	c := newTestDNSCluster("DNS_ROUND_ROBIN", nil, "svc.test:80")
	u.bind(&Table{Clusters: []*Cluster{c}})
	r := &fakeResolver{}
	r.set("svc.test", "10.0.0.1", "10.0.0.2")
	u.refreshDNS(t.Context(), r)
	if got := picked(c, 10); !slices.Equal(got, []string{"svc.test:80"}) {
		t.Fatalf("picked %v, want the one logical endpoint", got)
	}
	var dialed []string
	dial := u.dialVia(func(_ context.Context, _, addr string) (net.Conn, error) {
		dialed = append(dialed, addr)
		return nil, errors.New("not dialing in a unit test")
	})
	dials := func(n int) []string {
		dialed = nil
		for range n {
			_, _ = dial(t.Context(), "tcp", "svc.test:80")
		}
		return dialed
	}
	if got, want := dials(3), []string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.1:80"}; !slices.Equal(got, want) {
		t.Errorf("dials %v, want %v", got, want)
	}
	r.set("svc.test", "10.0.0.7")
	u.refreshDNS(t.Context(), r)
	if got, want := dials(2), []string{"10.0.0.7:80", "10.0.0.7:80"}; !slices.Equal(got, want) {
		t.Errorf("after a new answer: dials %v, want %v", got, want)
	}
	if got, want := dials(1), []string{"10.0.0.7:80"}; !slices.Equal(got, want) {
		t.Errorf("dials %v, want %v", got, want)
	}
	if _, _ = dial(t.Context(), "tcp", "other.test:80"); !slices.Equal(dialed, []string{"10.0.0.7:80", "other.test:80"}) {
		t.Errorf("another name is dialed as given: %v", dialed)
	}
}

// TestDNSOutlierPerAddress: with outlier detection, each resolved address is ejected on its
// own, and its state outlives a new answer that still has it.
func TestDNSOutlierPerAddress(t *testing.T) {
	t.Parallel()
	u := newUpstream(policy.UpstreamSettings{}, slog.New(slog.DiscardHandler), nil, nil)
	od := &OutlierDetection{Consecutive5xxErrors: 1, BaseEjectionTime: Duration(3600e9), MaxEjectionPercent: 100}
	c := newTestDNSCluster("DNS", od, "svc.test:80")
	rt := u.adopt(c)
	r := &fakeResolver{}
	r.set("svc.test", "10.0.0.1", "10.0.0.2")
	u.refreshDNS(t.Context(), r)
	bad := c.dnsView().Endpoints[0]
	x := &exchange{endpoint: bad, downstream: context.Background()}
	dispatch{u: u}.observe(c, rt, x, &http.Response{StatusCode: 500}, nil)
	if got := picked(c, 20); !slices.Equal(got, []string{"10.0.0.2:80"}) {
		t.Errorf("after ejecting %s: picked %v", bad.Address, got)
	}
	r.set("svc.test", "10.0.0.1", "10.0.0.2", "10.0.0.3")
	u.refreshDNS(t.Context(), r)
	if got := picked(c, 30); !slices.Equal(got, []string{"10.0.0.2:80", "10.0.0.3:80"}) {
		t.Errorf("new answer: picked %v, want the ejection kept", got)
	}
}

// TestRuntimePruned: binding a Table drops the runtimes no cluster of it uses and keeps (and
// shares) the others.
func TestRuntimePruned(t *testing.T) {
	t.Parallel()
	u := newUpstream(policy.UpstreamSettings{}, slog.New(slog.DiscardHandler), nil, nil)
	mk := func(name string) *Cluster {
		c := &Cluster{Name: name, Protocol: "HTTP", ConnectionPool: &ConnectionPool{MaxConnections: 1}, Endpoints: endpoints(1)}
		c.finish()
		return c
	}
	a, b := mk("outbound|80||a"), mk("outbound|80||b")
	u.bind(&Table{Clusters: []*Cluster{a, b}})
	if n := len(u.runtimes); n != 2 {
		t.Fatalf("%d runtimes, want 2", n)
	}
	a2 := mk("outbound|80||a")
	u.bind(&Table{Clusters: []*Cluster{a2}})
	if n := len(u.runtimes); n != 1 {
		t.Errorf("%d runtimes after b left, want 1", n)
	}
	if a.runtime.Load() != a2.runtime.Load() {
		t.Error("a kept its policy but got a new runtime")
	}
	if b.runtime.Load() == nil {
		t.Error("the old Table's cluster lost its runtime while requests may be in flight")
	}
	u.bind(&Table{})
	if n := len(u.runtimes); n != 0 {
		t.Errorf("%d runtimes for an empty Table, want 0", n)
	}
}

// TestGatewayDNS: through the gateway, a DNS ServiceEntry is served at the address its host
// resolves to, follows a new answer with no new snapshot, and a host that never resolves gets
// 503 "no healthy upstream".
func TestGatewayDNS(t *testing.T) {
	t.Parallel()
	one := backend(t, "one")
	p := port(t, one)
	ln, err := net.Listen("tcp", "127.0.0.2:"+p)
	if err != nil {
		t.Skipf("second loopback address: %v", err)
	}
	two := &httptest.Server{Listener: ln, Config: &http.Server{Handler: echo("two")}}
	two.Start()
	t.Cleanup(two.Close)

	r := &fakeResolver{}
	r.set("api.test", "127.0.0.1")
	g := newTestGateway(t, map[uint32]uint32{80: 0})
	g.dns.resolver = r
	snap := snapshot(t, 1, edgeGateway, fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: istio-system}
spec:
  hosts: [api.test, gone.test]
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: %s}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: istio-system}
spec:
  hosts: [api.test, gone.test]
  gateways: [edge]
  http:
  - match: [{authority: {exact: gone.test}}]
    route: [{destination: {host: gone.test}}]
  - route: [{destination: {host: api.test}}]
`, p))
	if err := g.Apply(snap); err != nil {
		t.Fatal(err)
	}
	client := newClient(t)
	addr := g.addr(t, 80)
	backendIs := func(host, want string) func() bool {
		return func() bool {
			res, err := get(t, client, addr, host, "/")
			return err == nil && res.code == http.StatusOK && res.body == want
		}
	}
	eventually(t, "api.test served at its first address", backendIs("api.test", "one"))
	r.set("api.test", "127.0.0.2")
	g.upstream.Load().refreshDNS(t.Context(), r)
	if !backendIs("api.test", "two")() {
		t.Error("a new answer is not used without a new snapshot")
	}
	eventually(t, "gone.test answered 503", func() bool {
		res, err := get(t, client, addr, "gone.test", "/")
		return err == nil && res.code == http.StatusServiceUnavailable && res.body == bodyNoHealthyUpstream
	})
}
