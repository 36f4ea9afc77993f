package gateway

import (
	"fmt"
	"slices"
	"strings"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// chainCandidate is a filter chain before its server names are claimed, with what to blame when
// a name is already taken, and (for PASSTHROUGH) its route, compiled only if the chain is kept.
type chainCandidate struct {
	fc    *FilterChain
	owner *policy.Resource
	field string
	route func() *TCPRoute
}

// filterChains compiles the TLS servers of a port, oldest Gateway first, into filter chains. Each
// SNI name goes to the first chain that claims it: Istio's oldest-wins rule for Gateways claiming
// the same host on a port, and Envoy's refusal of two filter chains with the same server name.
func (c *compiler) filterChains(port uint32, servers []gatewayServer) []*FilterChain {
	claimed := map[string]string{}
	var out []*FilterChain
	for _, s := range servers {
		for _, cand := range c.serverChains(port, s) {
			var names []string
			for _, n := range cand.fc.ServerNames {
				if owner, taken := claimed[n]; taken {
					c.problems.warn(cand.owner, cand.field, "host %s on port %d is already served by %s (the oldest wins): not served here", n, port, owner)
					continue
				}
				claimed[n] = cand.fc.Server
				names = append(names, n)
			}
			if len(names) == 0 {
				continue
			}
			cand.fc.ServerNames = names
			if cand.route != nil {
				cand.fc.Route = cand.route()
			}
			out = append(out, cand.fc)
		}
	}
	return out
}

// serverChains compiles one TLS server: one chain for a terminating server, one per matching tls
// route match for a PASSTHROUGH server, as Istio's gateway listener builder does.
func (c *compiler) serverChains(port uint32, s gatewayServer) []chainCandidate {
	protocol := strings.ToUpper(s.server.GetPort().GetProtocol())
	if s.server.GetTls().GetMode() == networking.ServerTLSSettings_PASSTHROUGH {
		return c.passthroughChains(port, s, protocol)
	}
	tls, ok := c.serverTLS(s, protocol != "TLS")
	if !ok {
		return nil
	}
	fc := &FilterChain{
		ServerNames: serverNames(s),
		Server:      s.name(),
		Protocol:    protocol,
		Mode:        s.server.GetTls().GetMode().String(),
		TLS:         tls,
	}
	if protocol == "TLS" {
		// A terminated TLS server proxies the decrypted bytes by the VirtualServices' tcp routes;
		// without one Istio builds no filter chain, and the connections are closed.
		fc.Route = c.tcpRouteFor(port, s)
		if fc.Route == nil {
			c.problems.warn(s.gateway, s.field(""), "no VirtualService tcp route is bound to this TLS server: its connections are closed")
			return nil
		}
	} else {
		fc.VirtualHosts = c.virtualHosts(port, []gatewayServer{s})
	}
	return []chainCandidate{{fc: fc, owner: s.gateway, field: s.field("hosts")}}
}

// serverNames are the SNI names a terminating server takes: the host part of its hosts.
func serverNames(s gatewayServer) []string {
	var out []string
	for _, h := range s.server.GetHosts() {
		_, host := policy.SplitGatewayHost(h)
		host = strings.ToLower(host)
		if !slices.Contains(out, host) {
			out = append(out, host)
		}
	}
	return out
}

// passthroughChains builds a chain per tls route match of the VirtualServices bound to a
// PASSTHROUGH server, taking the match's sniHosts: the SNI picks the route before any byte is
// decrypted.
func (c *compiler) passthroughChains(port uint32, s gatewayServer, protocol string) []chainCandidate {
	var out []chainCandidate
	gateway := s.gateway.NamespacedName()
	for _, vs := range c.bound[gateway] {
		serverHosts := serverHostsFor(s, vs.Namespace)
		if len(intersectHosts(serverHosts, virtualServiceHosts(vs))) == 0 {
			continue
		}
		spec := vs.Spec.(*networking.VirtualService)
		for i, tr := range spec.GetTls() {
			field := fmt.Sprintf("spec.tls[%d]", i)
			var route *TCPRoute
			compile := func() *TCPRoute {
				if route == nil {
					route = c.l4Route(vs, field, fmt.Sprintf("%s/%s/tls[%d]", vs.Namespace, vs.Name, i), tr.GetRoute(), port)
				}
				return route
			}
			for j, m := range tr.GetMatch() {
				if !c.l4Matches(vs.Namespace, gateway, port, m.GetPort(), m.GetGateways()) {
					continue
				}
				mf := fmt.Sprintf("%s.match[%d].sniHosts", field, j)
				names := c.sniNames(vs, mf, m.GetSniHosts(), serverHosts)
				if len(names) == 0 {
					continue
				}
				fc := &FilterChain{ServerNames: names, Server: s.name(), Protocol: protocol, Mode: modePassthrough}
				out = append(out, chainCandidate{fc: fc, owner: vs, field: mf, route: compile})
			}
		}
	}
	if len(out) == 0 {
		c.problems.warn(s.gateway, s.field(""), "no VirtualService tls route matches this PASSTHROUGH server: its connections are closed")
	}
	return out
}

// sniNames lowercases a match's sniHosts, keeping those the server can take.
func (c *compiler) sniNames(vs *policy.Resource, field string, sniHosts, serverHosts []string) []string {
	var out []string
	for _, h := range sniHosts {
		h = strings.ToLower(h)
		covered := slices.ContainsFunc(serverHosts, func(sh string) bool { return policy.HostsIntersect(sh, h) })
		if !covered {
			c.problems.warn(vs, field, "SNI host %s is not among the hosts of the Gateway server: not served", h)
			continue
		}
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}
