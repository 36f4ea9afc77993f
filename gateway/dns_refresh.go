package gateway

import (
	"context"
	"net"
	"sync"
	"time"
)

const (
	// defaultDNSRefresh is Envoy's dns_refresh_rate default.
	defaultDNSRefresh = 5 * time.Second
	// minDNSRefresh keeps a misconfigured rate from turning the gateway into a DNS load test.
	minDNSRefresh = time.Second
	// dnsLookupTimeout bounds one lookup, so a silent DNS server delays only its own names.
	dnsLookupTimeout = 5 * time.Second
)

// dnsRefresher re-resolves the names of the DNS clusters the gateway serves. The Gateway owns
// it: one goroutine, started with the first Table and stopped by Shutdown.
type dnsRefresher struct {
	resolver hostResolver
	interval time.Duration
	// kick asks for a refresh now: a new Table may have clusters never resolved.
	kick chan struct{}
	once sync.Once
}

func newDNSRefresher() *dnsRefresher {
	return &dnsRefresher{resolver: net.DefaultResolver, interval: defaultDNSRefresh, kick: make(chan struct{}, 1)}
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
	ticker := time.NewTicker(max(r.interval, minDNSRefresh))
	defer ticker.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ticker.C:
		case <-r.kick:
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
