package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// clusterRuntime is what a cluster keeps across Table swaps while its policy is unchanged: its
// connection pool (when its policy needs one of its own), its circuit breaker and its
// endpoints' outlier state.
type clusterRuntime struct {
	limiter *limiter
	// transport is nil when the shared pool for the cluster's protocol serves it.
	transport poolTransport
	hosts     sync.Map // address -> *hostHealth
	// dnsWarned makes an unresolvable destination one log line, not one per request.
	dnsWarned atomic.Bool
	// dns is the resolved side of a DNS cluster; nil for the others.
	dns *dnsCluster
	// retries counts retries in flight, against connectionPool.http.maxRetries.
	retries retryBudget
}

// runtimeKey names a cluster's runtime: a change of endpoints keeps it, a change of policy
// starts a new one. A DNS cluster's names and balancer are its policy too, since its runtime
// resolves and balances them.
func (c *Cluster) runtimeKey() string {
	key := c.Name + "|" + c.ServiceEntry + "|" + c.Protocol
	if p := c.ConnectionPool; p != nil {
		key += fmt.Sprintf("|pool%+v", *p)
	}
	if o := c.OutlierDetection; o != nil {
		key += fmt.Sprintf("|outlier%+v", *o)
	}
	if t := c.TLS; t != nil {
		key += fmt.Sprintf("|tls%+v", *t)
	}
	if dnsResolution(c.Resolution) {
		lb, _ := json.Marshal(c.LoadBalancer)
		key += "|" + c.Resolution + "|" + string(lb)
		for _, e := range c.Endpoints {
			key += fmt.Sprintf("|%s/%d", e.Address, e.Weight)
		}
	}
	return key
}

// adopt binds a cluster of a new Table to the runtime of its key, created on first use.
func (u *upstream) adopt(c *Cluster) *clusterRuntime {
	if rt := c.runtime.Load(); rt != nil {
		return rt
	}
	key := c.runtimeKey()
	u.mu.Lock()
	rt, ok := u.runtimes[key]
	if !ok {
		rt = &clusterRuntime{limiter: newLimiter(c.ConnectionPool, c.Protocol), transport: u.clusterTransport(c)}
		rt.dns = newDNSCluster(c, &rt.hosts)
		if rt.dns != nil && rt.dns.logical {
			for _, t := range rt.dns.targets {
				u.logical.Store(net.JoinHostPort(t.host, t.port), rt.dns)
			}
		}
		u.runtimes[key] = rt
	}
	u.mu.Unlock()
	if c.OutlierDetection != nil {
		for _, e := range c.Endpoints {
			h, _ := rt.hosts.LoadOrStore(e.Address, &hostHealth{})
			e.health.Store(h.(*hostHealth))
		}
	}
	c.runtime.Store(rt)
	return rt
}

// bind adopts every cluster of a Table about to be served, so DNS answers reach its clusters
// from their first request, and drops the runtimes no cluster of it uses: their idle
// connections close, and requests still in flight on an older Table finish on them.
func (u *upstream) bind(t *Table) {
	keep := make(map[*clusterRuntime]bool, len(t.Clusters))
	for _, c := range t.Clusters {
		keep[u.adopt(c)] = true
	}
	var dropped []*clusterRuntime
	u.mu.Lock()
	for k, rt := range u.runtimes {
		if !keep[rt] {
			delete(u.runtimes, k)
			dropped = append(dropped, rt)
		}
	}
	u.mu.Unlock()
	for _, rt := range dropped {
		if rt.transport != nil {
			rt.transport.CloseIdleConnections()
		}
		if rt.dns != nil {
			for _, t := range rt.dns.targets {
				u.logical.CompareAndDelete(net.JoinHostPort(t.host, t.port), rt.dns)
			}
		}
	}
}

// clusterTransport builds a pool for a cluster whose policy differs from the shared pools', or
// returns nil: *h1.Transport for HTTP/1.1, *http.Transport for HTTP/2 (h2c, or h2 by ALPN
// under TLS origination).
func (u *upstream) clusterTransport(c *Cluster) poolTransport {
	p := c.ConnectionPool
	if c.TLS == nil && (p == nil || (p.ConnectTimeout == 0 && p.IdleTimeout == 0 && p.MaxConnections == 0 && p.MaxRequestsPerConnection != 1)) {
		return nil
	}
	s := u.settings
	if p != nil {
		if p.ConnectTimeout > 0 {
			s.ConnectTimeout = policy.Duration(p.ConnectTimeout)
		}
		if p.IdleTimeout > 0 {
			s.IdleTimeout = policy.Duration(p.IdleTimeout)
		}
	}
	if c.Protocol != "HTTP2" {
		t := newHTTP1Transport(s)
		t.DialContext = u.dialVia(t.DialContext)
		if p != nil {
			if p.MaxConnections > 0 {
				t.MaxConnsPerHost = int(p.MaxConnections)
			}
			t.DisableKeepAlives = p.MaxRequestsPerConnection == 1
		}
		if c.TLS != nil {
			d := &tlsDialer{tls: c.TLS, store: u.store, dial: t.DialContext}
			t.DialTLSContext = d.DialTLSContext
		}
		return t
	}
	t := newTransport(s, c.TLS == nil)
	t.DialContext = u.dialVia(t.DialContext)
	if p != nil {
		if p.MaxConnections > 0 {
			t.MaxConnsPerHost = int(p.MaxConnections)
		}
		t.DisableKeepAlives = p.MaxRequestsPerConnection == 1
	}
	if c.TLS != nil {
		d := &tlsDialer{tls: c.TLS, store: u.store, dial: t.DialContext}
		t.DialTLSContext = d.DialTLSContext
		t.Protocols = new(http.Protocols)
		t.Protocols.SetHTTP2(true)
		// Auto mTLS: endpoints without a mesh proxy get h2c.
		t.Protocols.SetUnencryptedHTTP2(c.TLS.Auto)
	}
	return t
}

// rewrite chooses the endpoint again where the handler's choice could not know enough: a
// consistent-hash cluster picks by the request, and a cluster seen for the first time since a
// reload learns its endpoints' outlier state before the choice stands. Then it builds the
// upstream request.
func (u *upstream) rewrite(pr *httputil.ProxyRequest) {
	x := exchangeFrom(pr.In.Context())
	if c := x.destination.cluster; c != nil {
		u.adopt(c)
		if ep, ck, ok := c.pickFor(pr.In, x); ok {
			if ep == nil {
				x.noHealthy = true
			} else {
				x.endpoint, x.setCookie = ep, ck
			}
		} else if x.endpoint != nil && !x.endpoint.available(time.Now()) {
			if ep := c.pick(); ep != nil {
				x.endpoint = ep
			} else {
				x.noHealthy = true
			}
		}
	}
	rewriteRequest(pr)
}

// errNoHealthyUpstream is a request whose cluster has no endpoint outlier detection lets
// through: Envoy's 503 "no healthy upstream" (flag UH).
var errNoHealthyUpstream = errors.New("no healthy upstream")

// dispatch is the ReverseProxy's transport: it sends each request through its cluster's pool,
// under its circuit breaker, and tells outlier detection how the endpoint did.
type dispatch struct{ u *upstream }

func (d dispatch) RoundTrip(req *http.Request) (*http.Response, error) {
	x := exchangeFrom(req.Context())
	if x == nil || x.destination == nil || x.destination.cluster == nil {
		return d.u.http1.RoundTrip(req)
	}
	if x.noHealthy {
		x.noHealthy = false
		return nil, errNoHealthyUpstream
	}
	c := x.destination.cluster
	rt := d.u.adopt(c)
	release, err := rt.limiter.acquire(req.Context())
	if err != nil {
		return nil, err
	}
	var t http.RoundTripper = rt.transport
	if rt.transport == nil {
		t = d.u.http1
		if c.Protocol == "HTTP2" {
			t = d.u.h2c
		}
	}
	res, err := t.RoundTrip(req)
	if err != nil {
		release()
	} else {
		res.Body = &releaseBody{ReadCloser: res.Body, release: release}
	}
	d.observe(c, rt, x, res, err)
	return res, err
}

// observe feeds outlier detection and logs an unresolvable destination once per runtime.
func (d dispatch) observe(c *Cluster, rt *clusterRuntime, x *exchange, res *http.Response, err error) {
	if dns := new(net.DNSError); errors.As(err, &dns) && rt.dnsWarned.CompareAndSwap(false, true) {
		d.u.log.Warn("upstream host does not resolve: requests get 503", "cluster", c.Name, "host", dns.Name, "error", dns.Err)
	}
	if c.OutlierDetection == nil || x.endpoint == nil || x.downstream.Err() != nil {
		return
	}
	h := x.endpoint.health.Load()
	if h == nil {
		return
	}
	status := 0
	if res != nil {
		status = res.StatusCode
	}
	if errors.Is(err, errOverflow) {
		return
	}
	now := time.Now()
	pool := c
	if v := c.dnsView(); v != nil {
		pool = v
	}
	if h.record(c.OutlierDetection, outcomeOf(status, err), now, func() bool { return mayEject(pool, now) }) {
		d.u.log.Info("outlier detection ejected an upstream endpoint", "cluster", c.Name, "endpoint", x.endpoint.Address)
	}
}

// releaseBody gives the circuit breaker slot back when the response is done with.
type releaseBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *releaseBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

// Write keeps upgraded (101) bodies writable, as ReverseProxy needs for WebSocket.
func (b *releaseBody) Write(p []byte) (int, error) {
	w, ok := b.ReadCloser.(io.Writer)
	if !ok {
		return 0, errors.New("upstream body is not writable")
	}
	return w.Write(p)
}
