package gateway

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestHostHealth walks one endpoint through Envoy's consecutive-error ejection with a fake
// clock: ejected on the Nth error, back after base × times ejected, the multiplier decaying
// per healthy interval.
func TestHostHealth(t *testing.T) {
	t.Parallel()
	od := &OutlierDetection{Consecutive5xxErrors: 3, ConsecutiveGatewayErrors: 2, Interval: Duration(10 * time.Second), BaseEjectionTime: Duration(30 * time.Second), MaxEjectionPercent: 100}
	yes := func() bool { return true }
	t0 := time.Unix(1_000_000, 0)
	type step struct {
		at        time.Duration
		status    int
		err       error
		wantEject bool
		// checkAt, when set, asks whether the endpoint is ejected at that time.
		checkAt     time.Duration
		wantEjected bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "5xx in a row", steps: []step{
			{status: 500}, {status: 500}, {status: 500, wantEject: true},
			{checkAt: 29 * time.Second, wantEjected: true},
			{checkAt: 30 * time.Second, wantEjected: false},
		}},
		{name: "a success resets the count", steps: []step{
			{status: 500}, {status: 500}, {status: 200}, {status: 500}, {status: 500},
			{checkAt: time.Second, wantEjected: false},
		}},
		{name: "gateway errors trip sooner", steps: []step{
			{status: 503}, {err: errors.New("refused"), wantEject: true},
		}},
		{name: "second ejection lasts twice as long", steps: []step{
			{status: 502}, {status: 502, wantEject: true},
			{at: 31 * time.Second, status: 502}, {at: 31 * time.Second, status: 502, wantEject: true},
			{checkAt: 31*time.Second + 59*time.Second, wantEjected: true},
			{checkAt: 31*time.Second + 60*time.Second, wantEjected: false},
		}},
		{name: "the multiplier decays while healthy", steps: []step{
			{status: 502}, {status: 502, wantEject: true},
			{at: 10 * time.Minute, status: 502}, {at: 10 * time.Minute, status: 502, wantEject: true},
			{checkAt: 10*time.Minute + 30*time.Second, wantEjected: false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := &hostHealth{}
			for i, s := range tt.steps {
				if s.checkAt != 0 {
					if got := h.ejected(t0.Add(s.checkAt)); got != s.wantEjected {
						t.Errorf("step %d: ejected at %v = %v, want %v", i, s.checkAt, got, s.wantEjected)
					}
					continue
				}
				if got := h.record(od, outcomeOf(s.status, s.err), t0.Add(s.at), yes); got != s.wantEject {
					t.Errorf("step %d: ejected %v, want %v", i, got, s.wantEject)
				}
			}
		})
	}
}

func TestMayEject(t *testing.T) {
	t.Parallel()
	now := time.Now()
	tests := []struct {
		name               string
		endpoints, ejected int
		maxPercent         int32
		want               bool
	}{
		{name: "one may always be ejected", endpoints: 2, maxPercent: 10, want: true},
		{name: "10% of 2 allows only one", endpoints: 2, ejected: 1, maxPercent: 10, want: false},
		{name: "50% of 4 allows two", endpoints: 4, ejected: 1, maxPercent: 50, want: true},
		{name: "50% of 4 stops at two", endpoints: 4, ejected: 2, maxPercent: 50, want: false},
		{name: "100% of 1", endpoints: 1, maxPercent: 100, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &Cluster{OutlierDetection: &OutlierDetection{MaxEjectionPercent: tt.maxPercent}}
			for i := range tt.endpoints {
				e := &Endpoint{}
				h := &hostHealth{}
				if i < tt.ejected {
					h.ejectedUntil = now.Add(time.Hour)
					h.ejectedFlag.Store(true)
				}
				e.health.Store(h)
				c.Endpoints = append(c.Endpoints, e)
			}
			if got := mayEject(c, now); got != tt.want {
				t.Errorf("mayEject = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestOutlierEjection: of two endpoints, the one that always answers 500 is ejected after
// consecutive5xxErrors and then gets no traffic; a cluster whose only endpoint is ejected
// answers 503 "no healthy upstream".
func TestOutlierEjection(t *testing.T) {
	t.Parallel()
	good := backend(t, "good")
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Backend", "bad")
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(bad.Close)
	const rule = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: od, namespace: istio-system}
spec:
  host: pair.internal
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 1h, maxEjectionPercent: 100}
`
	snap := snapshot(t, 1, edgeGateway, multiEntry("pair.internal", []string{port(t, good), port(t, bad)}, nil), rule, routeAllTo("pair.internal"))
	g := startGateway(t, snap)
	client := newClient(t)
	addr := g.addr(t, 80)
	eventually(t, "the failing endpoint ejected", func() bool {
		res, err := get(t, client, addr, "pair.internal", "/")
		if err != nil {
			t.Fatal(err)
		}
		ep := endpointAt(t, g.Table(), "outbound|80||pair.internal", "127.0.0.1:"+port(t, bad))
		return res.code == http.StatusOK && !ep.available(time.Now())
	})
	for range 20 {
		res, err := get(t, client, addr, "pair.internal", "/")
		if err != nil || res.code != http.StatusOK || res.body != "good" {
			t.Fatalf("after ejection: %d %q %v, want 200 from good", res.code, res.body, err)
		}
	}

	// A reload with the same endpoints keeps the ejection.
	if err := g.Apply(snapshot(t, 2, edgeGateway, multiEntry("pair.internal", []string{port(t, good), port(t, bad)}, nil), rule, routeAllTo("pair.internal"))); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		res, err := get(t, client, addr, "pair.internal", "/")
		if err != nil || res.code != http.StatusOK {
			t.Fatalf("after reload: %d %v, want 200", res.code, err)
		}
	}

	// Only the bad endpoint left: once ejected, nothing is healthy.
	if err := g.Apply(snapshot(t, 3, edgeGateway, multiEntry("pair.internal", []string{port(t, bad)}, nil), rule, routeAllTo("pair.internal"))); err != nil {
		t.Fatal(err)
	}
	eventually(t, "no healthy upstream", func() bool {
		res, err := get(t, client, addr, "pair.internal", "/")
		return err == nil && res.code == http.StatusServiceUnavailable && res.body == bodyNoHealthyUpstream
	})
}

func endpointAt(t *testing.T, tb *Table, cluster, address string) *Endpoint {
	t.Helper()
	for _, e := range clusterNamed(t, tb, cluster).Endpoints {
		if e.Address == address {
			return e
		}
	}
	t.Fatalf("cluster %s has no endpoint %s", cluster, address)
	return nil
}
