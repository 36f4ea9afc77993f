package gateway

import (
	"cmp"
	"slices"
	"strings"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// virtualHosts merges the servers that share a port (or, for HTTPS, the one server of a filter
// chain) into virtual hosts, one per host name, as Istio's gateway route configuration does: the
// routes of every VirtualService bound to those servers are appended in server order, then
// VirtualService order (oldest first), and catch-all routes are moved to the end.
func (c *compiler) virtualHosts(port uint32, servers []gatewayServer) []*VirtualHost {
	var out []*VirtualHost
	vhosts := map[string]*vhostBuilder{}
	get := func(domain string) *vhostBuilder {
		vb, ok := vhosts[domain]
		if !ok {
			vb = &vhostBuilder{vh: &VirtualHost{Domain: domain}, merged: map[string]bool{}}
			vhosts[domain] = vb
			out = append(out, vb.vh)
		}
		return vb
	}
	for _, s := range servers {
		var touched []string
		for _, vs := range c.bound[s.gateway.NamespacedName()] {
			hosts := intersectHosts(serverHostsFor(s, vs.Namespace), virtualServiceHosts(vs))
			if len(hosts) == 0 {
				continue
			}
			routes := c.virtualServiceRoutes(vs, s.gateway.NamespacedName(), port)
			if len(routes) == 0 {
				continue
			}
			for _, h := range hosts {
				vb := get(h)
				touched = append(touched, h)
				if vb.merged[vs.Key()] {
					continue
				}
				vb.merged[vs.Key()] = true
				vb.vh.Routes = append(vb.vh.Routes, routes...)
			}
		}
		if s.server.GetTls().GetHttpsRedirect() {
			for _, h := range s.server.GetHosts() {
				_, host := policy.SplitGatewayHost(h)
				touched = append(touched, strings.ToLower(host))
			}
			for _, h := range touched {
				get(h).vh.RequireTLS = true
			}
		}
	}
	for _, vh := range out {
		vh.Routes = catchAllLast(vh.Routes)
	}
	slices.SortFunc(out, func(a, b *VirtualHost) int { return cmp.Compare(a.Domain, b.Domain) })
	return out
}

type vhostBuilder struct {
	vh *VirtualHost
	// merged holds the VirtualServices already appended, so that one bound through two servers
	// of the port is not appended twice.
	merged map[string]bool
}

// serverHostsFor returns the server's hosts a VirtualService in namespace ns may bind: the
// namespace part of "ns/host" must be "*", ns, or "." when the Gateway is in ns.
func serverHostsFor(s gatewayServer, ns string) []string {
	var out []string
	for _, h := range s.server.GetHosts() {
		hns, host := policy.SplitGatewayHost(h)
		if hns == "." {
			hns = s.gateway.Namespace
		}
		if hns != "*" && hns != ns {
			continue
		}
		out = append(out, strings.ToLower(host))
	}
	return out
}

// virtualServiceHosts returns a VirtualService's hosts as Istio resolves them: short names
// become FQDNs in the VirtualService's namespace.
func virtualServiceHosts(vs *policy.Resource) []string {
	spec := vs.Spec.(*networking.VirtualService)
	out := make([]string, 0, len(spec.GetHosts()))
	for _, h := range spec.GetHosts() {
		out = append(out, policy.FQDN(h, vs.Namespace))
	}
	return out
}

// intersectHosts returns, for every pair of a server host and a VirtualService host where one
// covers the other, the more specific of the two, as Istio's host intersection does.
func intersectHosts(serverHosts, vsHosts []string) []string {
	var out []string
	for _, s := range serverHosts {
		for _, v := range vsHosts {
			var h string
			switch {
			case policy.HostMatches(v, s):
				h = s
			case policy.HostMatches(s, v):
				h = v
			default:
				continue
			}
			if !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
	}
	return out
}

// catchAllLast moves catch-all routes behind the others, keeping both groups in order, as
// Istio's SortVHostRoutes does: merged VirtualServices must not hide each other's specific
// routes behind an older one's "/".
func catchAllLast(routes []*Route) []*Route {
	out := make([]*Route, 0, len(routes))
	var tail []*Route
	for _, r := range routes {
		if r.Match.catchAll() {
			tail = append(tail, r)
			continue
		}
		out = append(out, r)
	}
	return append(out, tail...)
}
