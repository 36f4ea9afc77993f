package gateway

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	meshconfig "istio.io/api/mesh/v1alpha1"
)

const (
	// defaultDNSRefresh is MeshConfig dnsRefreshRate's default, which istiod sets as every DNS
	// cluster's dns_refresh_rate (Envoy's own default, 5s, never applies under Istio).
	defaultDNSRefresh = 60 * time.Second
	// minDNSRefresh keeps a misconfigured rate from turning the gateway into a DNS load test.
	minDNSRefresh = time.Second
	// dnsLookupTimeout bounds one lookup, so a silent DNS server delays only its own names.
	dnsLookupTimeout = 5 * time.Second
)

// dnsRefresher re-resolves the names of the DNS clusters the gateway serves. The Gateway owns
// it: one goroutine, started with the first Table and stopped by Shutdown.
type dnsRefresher struct {
	resolver hostResolver
	// interval is the refresh period in nanoseconds, from the served snapshot's MeshConfig
	// dnsRefreshRate; run picks a change up at its next wake-up (each Apply kicks it).
	//
	// istiod also sets respect_dns_ttl, so Envoy re-resolves a name when its TTL runs out
	// rather than on this period. Go's resolver does not report TTLs, so the gateway
	// refreshes on the period alone.
	interval atomic.Int64
	// kick asks for a refresh now: a new Table may have clusters never resolved.
	kick chan struct{}
	once sync.Once
	// dynamic caches the names dynamic forwarding resolves for clients.
	dynamic dfpCache
}

func newDNSRefresher() *dnsRefresher {
	r := &dnsRefresher{resolver: net.DefaultResolver, kick: make(chan struct{}, 1)}
	r.interval.Store(int64(defaultDNSRefresh))
	return r
}

// dnsRefreshRate is MeshConfig dnsRefreshRate: 60s when unset, as in Istio; never below
// minDNSRefresh.
func dnsRefreshRate(m *meshconfig.MeshConfig) time.Duration {
	d := defaultDNSRefresh
	if r := m.GetDnsRefreshRate(); r != nil && r.CheckValid() == nil && r.AsDuration() > 0 {
		d = r.AsDuration()
	}
	return max(d, minDNSRefresh)
}

// setInterval makes d the refresh period from the next wake-up of run on.
func (r *dnsRefresher) setInterval(d time.Duration) { r.interval.Store(int64(d)) }

func (r *dnsRefresher) period() time.Duration {
	return max(time.Duration(r.interval.Load()), minDNSRefresh)
}

// bindTable gives a Table about to be served its clusters' runtimes (dropping those no cluster
// uses any more) and has the new DNS clusters resolved at once.
func (g *Gateway) bindTable(t *Table) {
	g.upstream.Load().bind(t)
	g.dns.once.Do(func() {
		g.retiring.Go(func() { g.dns.run(g.stop, g.upstream.Load) })
	})
	select {
	case g.dns.kick <- struct{}{}:
	default:
	}
}

// run refreshes every interval and on each kick until stop closes; lookups in flight are
// cancelled then.
func (r *dnsRefresher) run(stop <-chan struct{}, current func() *upstream) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	})
	period := r.period()
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ticker.C:
		case <-r.kick:
		}
		// A reload that changed dnsRefreshRate kicked this loop: the new period starts now,
		// without restarting the goroutine.
		if p := r.period(); p != period {
			period = p
			ticker.Reset(period)
		}
		current().refreshDNS(ctx, r.resolver)
	}
}

// refreshDNS resolves every DNS cluster's names again, the clusters in parallel.
func (u *upstream) refreshDNS(ctx context.Context, r hostResolver) {
	u.mu.Lock()
	var ds []*dnsCluster
	for _, rt := range u.runtimes {
		if rt.dns != nil {
			ds = append(ds, rt.dns)
		}
	}
	u.mu.Unlock()
	var wg sync.WaitGroup
	for _, d := range ds {
		wg.Go(func() {
			lctx, cancel := context.WithTimeout(ctx, dnsLookupTimeout)
			defer cancel()
			d.refresh(lctx, r, u.log.Warn)
		})
	}
	wg.Wait()
}

// dialVia sends new connections to a DNS_ROUND_ROBIN name to its current address; any other
// address is dialed as given.
func (u *upstream) dialVia(base func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if d, ok := u.logical.Load(addr); ok {
			if a, ok := d.(*dnsCluster).dialAddress(addr); ok {
				addr = a
			}
		}
		return base(ctx, network, addr)
	}
}
