package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// Gateway serves the Tables compiled from the snapshots it is given. Listeners live across
// reloads: a port present before and after a reload keeps its socket and connections, and only
// the Table behind it changes.
type Gateway struct {
	log     *slog.Logger
	opts    Options
	metrics *metrics
	buffers *bufferPool
	tickets *ticketKeys
	dns     *dnsRefresher

	table    atomic.Pointer[Table]
	upstream atomic.Pointer[upstream]
	logins   atomic.Pointer[loginSet] // the OIDCLogins attached here; nil before the first Apply
	ready    atomic.Bool

	mu        sync.Mutex // serialises Apply and Shutdown
	listeners map[ListenerKey]*listener
	drain     time.Duration
	closed    bool
	// retiring tracks listeners removed by a reload while they drain, and upstream pools
	// replaced by a settings change until their in-flight requests are done.
	retiring sync.WaitGroup
	stop     chan struct{}
	// watchLoginSecrets starts the rebuild of the logins on Secret changes, with the first login.
	watchLoginSecrets sync.Once

	accessLogs accessLogs
}

// New returns a Gateway that serves nothing until the first Apply.
func New(opts Options) *Gateway {
	opts = opts.withDefaults()
	registerAuthz(opts)
	return &Gateway{
		log:       opts.Logger,
		opts:      opts,
		metrics:   newMetrics(opts.Registerer, opts.Compile),
		buffers:   &bufferPool{},
		tickets:   newTicketKeys(opts.TicketKeyRotation),
		dns:       newDNSRefresher(),
		listeners: map[ListenerKey]*listener{},
		drain:     policy.DefaultSettings().DrainTimeout.Std(),
		stop:      make(chan struct{}),
	}
}

// Apply compiles a snapshot and serves it: listeners for new ports start, listeners for ports no
// longer used drain and stop, and the rest switch to the new Table for their next request. On
// any error the previous Table and listeners keep serving.
func (g *Gateway) Apply(snap *policy.Snapshot) error {
	t, problems := Compile(snap, g.opts.Compile)
	for _, p := range problems {
		if p.Severity == policy.Warning {
			g.log.Warn("gateway config", "version", snap.Version, "problem", p.String())
		}
	}
	if err := problems.Err(); err != nil {
		return fmt.Errorf("gateway: snapshot %d: %w", snap.Version, err)
	}
	if g.opts.Credentials == nil && t.terminatesTLS() {
		g.log.Warn("gateway config", "version", snap.Version, "problem", "TLS servers are configured but the gateway has no credential store: their handshakes fail")
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return errors.New("gateway: shut down")
	}
	started, err := g.openListeners(t, snap.Settings.Downstream)
	if err != nil {
		return fmt.Errorf("gateway: snapshot %d: %w", snap.Version, err)
	}
	g.swapUpstream(snap.Settings)
	g.dns.setInterval(dnsRefreshRate(snap.Mesh))
	g.bindTable(t)
	// The login is in force before new listeners accept: no request passes without sign-in.
	g.applyLogins(snap)
	// The Table is in place before new listeners accept, so no request finds its port missing.
	g.table.Store(t)
	g.updateAccessLog(t.AccessLog)
	for _, l := range started {
		g.listeners[l.key] = l
		l.serve(g)
	}
	for k, l := range g.listeners {
		if t.listener(k) == nil {
			delete(g.listeners, k)
			g.retire(l)
		}
	}
	if d := snap.Settings.DrainTimeout.Std(); d > 0 {
		g.drain = d
	}
	g.ready.Store(true)
	g.log.Info("gateway config applied", "version", snap.Version, "listeners", len(t.Listeners), "clusters", len(t.Clusters))
	return nil
}

// openListeners binds the listeners t has and the gateway does not; on failure it closes what
// it opened.
func (g *Gateway) openListeners(t *Table, ds policy.DownstreamSettings) ([]*listener, error) {
	var started []*listener
	for _, tl := range t.Listeners {
		if _, ok := g.listeners[tl.Key()]; ok {
			continue
		}
		l, err := g.newListener(tl, ds)
		if err != nil {
			for _, s := range started {
				_ = s.ln.Close()
			}
			return nil, err
		}
		started = append(started, l)
	}
	return started, nil
}

// swapUpstream replaces the connection pools when Settings.upstream changed. The old pools'
// idle connections are closed now and again once in-flight requests had the drain time to end.
func (g *Gateway) swapUpstream(s *policy.Settings) {
	want := upstreamDefaults(s.Upstream)
	old := g.upstream.Load()
	if old != nil && old.settings == want {
		return
	}
	g.upstream.Store(newUpstream(want, g.log, g.buffers, g.opts.Credentials))
	if old == nil {
		return
	}
	old.closeIdle()
	drain := s.DrainTimeout.Std()
	g.retiring.Go(func() {
		timer := time.NewTimer(drain)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-g.stop:
		}
		old.closeIdle()
	})
}

// retire drains a listener a reload removed. Its socket closes now, so the port can be bound
// again at once; requests in flight get the drain time to finish.
func (g *Gateway) retire(l *listener) {
	l.closeSocket()
	drain := g.drain
	g.retiring.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), drain)
		defer cancel()
		if err := l.shutdown(ctx); err != nil {
			g.log.Warn("gateway listener did not drain in time", "address", l.addr, "error", err)
		}
	})
}

// Ready reports whether a snapshot has been applied and its listeners are accepting, and the
// Gateway is not shutting down.
func (g *Gateway) Ready() bool { return g.ready.Load() }

// Shutdown stops accepting, lets in-flight requests finish within ctx and Settings.drainTimeout
// (whichever ends first), then closes what is left.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	g.ready.Store(false)
	ls := slices.Collect(maps.Values(g.listeners))
	g.listeners = map[ListenerKey]*listener{}
	drain := g.drain
	g.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, drain)
	defer cancel()
	errs := make([]error, len(ls))
	var wg sync.WaitGroup
	for i, l := range ls {
		wg.Go(func() { errs[i] = l.shutdown(ctx) })
	}
	wg.Wait()
	close(g.stop)
	g.retiring.Wait()
	if u := g.upstream.Load(); u != nil {
		u.closeIdle()
	}
	g.closeLogins()
	g.stopAccessLog()
	return errors.Join(errs...)
}

// ListenAddrs returns the address each listener is bound to, for tests and logs.
func (g *Gateway) ListenAddrs() map[ListenerKey]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[ListenerKey]string, len(g.listeners))
	for k, l := range g.listeners {
		out[k] = l.ln.Addr().String()
	}
	return out
}

// Table returns the Table being served, nil before the first Apply.
func (g *Gateway) Table() *Table { return g.table.Load() }
