package gateway

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
)

// hostResolver is the part of *net.Resolver the gateway needs, so tests can answer for names.
type hostResolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// dnsTarget is one endpoint of a DNS cluster named by a host name.
type dnsTarget struct {
	host   string
	port   string
	weight uint32
	// addrs is the last good answer for host; nil until one came. Only the refresh writes it.
	addrs []netip.Addr
	// failing makes a run of failed lookups one log line.
	failing bool
}

// dnsCluster is the resolved side of a cluster whose ServiceEntry resolution is DNS-based. It
// lives in the cluster's runtime, so a re-resolution changes where requests go without a Table
// recompile, and a Table swap with the same cluster keeps the answers.
type dnsCluster struct {
	// logical is DNS_ROUND_ROBIN, Envoy's LOGICAL_DNS: the host name stays one endpoint (one
	// connection pool) and each new connection goes to the next address of the last answer.
	// Otherwise (DNS, DYNAMIC_DNS: Envoy's STRICT_DNS) every address is an endpoint of its own,
	// balanced and ejected by outlier detection on its own.
	logical bool
	// template carries the policy a view balances with; its Endpoints are the Table's.
	template *Cluster
	hosts    *sync.Map // the runtime's address -> *hostHealth

	mu      sync.Mutex // serialises refreshes
	targets []*dnsTarget
	// fixed are endpoints given as IP literals, which need no lookup.
	fixed []*Endpoint
	// view is the cluster as last resolved; nil until the first refresh, when requests still
	// dial the names as compiled.
	view atomic.Pointer[Cluster]
	// answers maps "host:port" to the last good addresses, for logical dials.
	answers atomic.Pointer[map[string][]netip.Addr]
	next    atomic.Uint64
}

// dnsResolution reports whether a ServiceEntry resolution has the gateway look names up.
// NONE is among them: a gateway has no original destination, so it connects as with DNS.
func dnsResolution(r string) bool {
	switch r {
	case "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS", "NONE":
		return true
	}
	return false
}

// newDNSCluster returns the resolved side of c, or nil when c needs no lookups.
func newDNSCluster(c *Cluster, hosts *sync.Map) *dnsCluster {
	if !dnsResolution(c.Resolution) {
		return nil
	}
	d := &dnsCluster{logical: c.Resolution == "DNS_ROUND_ROBIN", template: c, hosts: hosts}
	for _, e := range c.Endpoints {
		host, port, err := net.SplitHostPort(e.Address)
		if err != nil {
			continue
		}
		if _, err := netip.ParseAddr(host); err == nil {
			d.fixed = append(d.fixed, &Endpoint{Address: e.Address, Weight: e.Weight})
			continue
		}
		d.targets = append(d.targets, &dnsTarget{host: host, port: port, weight: e.Weight})
	}
	if len(d.targets) == 0 {
		return nil
	}
	return d
}

// dnsView is the cluster as last resolved, or nil when c is not a DNS cluster or has had no
// answer yet.
func (c *Cluster) dnsView() *Cluster {
	rt := c.runtime.Load()
	if rt == nil || rt.dns == nil {
		return nil
	}
	return rt.dns.view.Load()
}

// lookupResult is one name's answer in a refresh.
type lookupResult struct {
	addrs []netip.Addr
	err   error
}

// refresh looks every name up again and publishes the new view. A failed lookup keeps the
// last good answer; a name that never resolved has no endpoint, so with no other endpoint the
// cluster answers 503 "no healthy upstream". Each change of state is one log line.
func (d *dnsCluster) refresh(ctx context.Context, r hostResolver, logf func(msg string, args ...any)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	results := make([]lookupResult, len(d.targets))
	var wg sync.WaitGroup
	for i, t := range d.targets {
		wg.Go(func() {
			addrs, err := r.LookupNetIP(ctx, "ip", t.host)
			if err == nil && len(addrs) == 0 {
				err = &net.DNSError{Err: "no addresses", Name: t.host, IsNotFound: true}
			}
			results[i] = lookupResult{addrs: preferV4(addrs), err: err}
		})
	}
	wg.Wait()
	changed := d.view.Load() == nil
	for i, t := range d.targets {
		res := results[i]
		switch {
		case res.err != nil && t.addrs == nil:
			if !t.failing {
				logf("upstream host does not resolve: requests get 503", "cluster", d.template.Name, "host", t.host, "error", res.err)
			}
			t.failing = true
		case res.err != nil:
			if !t.failing {
				logf("upstream host re-resolution failed: keeping the last addresses", "cluster", d.template.Name, "host", t.host, "addresses", len(t.addrs), "error", res.err)
			}
			t.failing = true
		default:
			t.failing = false
			addrs := res.addrs
			if !d.logical {
				// Order does not matter to a balancer; sorting keeps a reordered answer from
				// rebuilding the view.
				addrs = slices.Clone(addrs)
				slices.SortFunc(addrs, netip.Addr.Compare)
			}
			if !slices.Equal(addrs, t.addrs) {
				t.addrs, changed = addrs, true
			}
		}
	}
	if changed {
		d.publish()
	}
}

// publish builds the view from the last good answers.
func (d *dnsCluster) publish() {
	tpl := d.template
	v := &Cluster{Name: tpl.Name, Resolution: tpl.Resolution, Protocol: tpl.Protocol, LoadBalancer: tpl.LoadBalancer, OutlierDetection: tpl.OutlierDetection}
	for _, e := range d.fixed {
		v.Endpoints = append(v.Endpoints, &Endpoint{Address: e.Address, Weight: e.Weight})
	}
	answers := map[string][]netip.Addr{}
	for _, t := range d.targets {
		if t.addrs == nil {
			continue
		}
		if d.logical {
			hp := net.JoinHostPort(t.host, t.port)
			answers[hp] = t.addrs
			v.Endpoints = append(v.Endpoints, &Endpoint{Address: hp, Weight: t.weight})
			continue
		}
		for _, a := range t.addrs {
			v.Endpoints = append(v.Endpoints, &Endpoint{Address: net.JoinHostPort(a.String(), t.port), Weight: t.weight})
		}
	}
	if v.OutlierDetection != nil {
		live := make(map[string]bool, len(v.Endpoints))
		for _, e := range v.Endpoints {
			h, _ := d.hosts.LoadOrStore(e.Address, &hostHealth{})
			e.health.Store(h.(*hostHealth))
			live[e.Address] = true
		}
		// An address DNS no longer gives loses its outlier state, so churn does not grow it.
		d.hosts.Range(func(k, _ any) bool {
			if !live[k.(string)] {
				d.hosts.Delete(k)
			}
			return true
		})
	}
	v.finish()
	d.answers.Store(&answers)
	d.view.Store(v)
}

// dialAddress is where a new connection to a logical endpoint goes: the next address of the
// last answer, in turn. ok=false when addr is not one of this cluster's names.
func (d *dnsCluster) dialAddress(addr string) (string, bool) {
	m := d.answers.Load()
	if m == nil {
		return "", false
	}
	addrs, ok := (*m)[addr]
	if !ok || len(addrs) == 0 {
		return "", false
	}
	_, port, _ := net.SplitHostPort(addr)
	a := addrs[(d.next.Add(1)-1)%uint64(len(addrs))]
	return net.JoinHostPort(a.String(), port), true
}

// preferV4 keeps the IPv4 answers when there are any, else the IPv6 ones: Envoy's
// V4_PREFERRED lookup family, so "localhost" is 127.0.0.1 and not also ::1, where an upstream
// bound to IPv4 is not listening.
func preferV4(addrs []netip.Addr) []netip.Addr {
	var v4 []netip.Addr
	for _, a := range addrs {
		if a.Unmap().Is4() {
			v4 = append(v4, a.Unmap())
		}
	}
	if len(v4) > 0 {
		return v4
	}
	return addrs
}
