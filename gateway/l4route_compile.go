package gateway

import (
	"fmt"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// tcpListenerRoute compiles a TCP port: its first (oldest) server owns it, as Istio keeps one
// plain TCP server per port.
func (c *compiler) tcpListenerRoute(port uint32, servers []gatewayServer) *TCPRoute {
	for _, s := range servers[1:] {
		c.problems.warn(s.gateway, s.field("port"), "port %d is already served by the TCP server %s (the oldest Gateway wins): this server is skipped", port, servers[0].name())
	}
	r := c.tcpRouteFor(port, servers[0])
	if r == nil {
		c.problems.warn(servers[0].gateway, servers[0].field(""), "no VirtualService tcp route is bound to this TCP server: its connections are closed")
	}
	return r
}

// tcpRouteFor finds the route of a TCP (or terminated TLS) server as Istio does: the first tcp
// block, of the VirtualServices bound to the server whose hosts meet its hosts (oldest first),
// whose match list is empty or has a match for this port and gateway.
func (c *compiler) tcpRouteFor(port uint32, s gatewayServer) *TCPRoute {
	gateway := s.gateway.NamespacedName()
	for _, vs := range c.bound[gateway] {
		if len(intersectHosts(serverHostsFor(s, vs.Namespace), virtualServiceHosts(vs))) == 0 {
			continue
		}
		spec := vs.Spec.(*networking.VirtualService)
		for i, tr := range spec.GetTcp() {
			matched := len(tr.GetMatch()) == 0
			for _, m := range tr.GetMatch() {
				if c.l4Matches(vs.Namespace, gateway, port, m.GetPort(), m.GetGateways()) {
					matched = true
					break
				}
			}
			if matched {
				field := fmt.Sprintf("spec.tcp[%d]", i)
				return c.l4Route(vs, field, fmt.Sprintf("%s/%s/tcp[%d]", vs.Namespace, vs.Name, i), tr.GetRoute(), port)
			}
		}
	}
	return nil
}

// l4Matches applies the only L4 match conditions Istio evaluates at a gateway: the port and the
// gateways the match names. Source labels and subnets describe sidecars, not gateways.
func (c *compiler) l4Matches(vsNamespace, gateway string, port, matchPort uint32, gateways []string) bool {
	if matchPort != 0 && matchPort != port {
		return false
	}
	if len(gateways) == 0 {
		return true
	}
	for _, ref := range gateways {
		if ns, name, ok := policy.GatewayRef(vsNamespace, ref); ok && ns+"/"+name == gateway {
			return true
		}
	}
	return false
}

// l4Route compiles the weighted destinations of a tcp or tls block, with the same weight rules
// as HTTP routes.
func (c *compiler) l4Route(vs *policy.Resource, field, name string, dests []*networking.RouteDestination, port uint32) *TCPRoute {
	r := &TCPRoute{Name: name}
	for i, d := range dests {
		weight := uint32(max(d.GetWeight(), 0))
		if len(dests) == 1 {
			weight = 1
		}
		if weight == 0 {
			continue
		}
		cl, cname := c.cluster(vs, fmt.Sprintf("%s.route[%d].destination", field, i), d.GetDestination(), port, true)
		r.Destinations = append(r.Destinations, &Destination{Cluster: cname, Weight: weight, NotFound: cl == nil, cluster: cl})
		r.totalWeight += weight
	}
	if len(r.Destinations) == 0 {
		c.problems.warn(vs, field+".route", "route has no destination with a weight: connections are closed")
	}
	return r
}

// applyL4TLS applies a DestinationRule's tls to the cluster of a tcp or tls route: Envoy's
// cluster transport socket wraps every upstream connection whatever the route kind, so a
// SIMPLE, MUTUAL or ISTIO_MUTUAL upstream gets TLS on the wire. The rest of the trafficPolicy is
// left to HTTP routes, as before.
func (c *compiler) applyL4TLS(cl *Cluster, dr *policy.Resource, subset string, port uint32, host string) {
	p := trafficPolicyParts(dr, subset, port)
	if p.tls == nil {
		return
	}
	cl.DestinationRule = dr.NamespacedName()
	cl.tlsSet = true
	cl.TLS = c.compileOriginationTLS(dr, p.tlsF, p.tls, host, cl.Protocol)
}
