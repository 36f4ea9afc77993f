package gateway

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// destinations compiles a route's weighted destinations as Istio does: a single destination
// takes all traffic whatever its weight; with several, weights are relative and zero-weight
// destinations are left out.
func (c *compiler) destinations(vs *policy.Resource, field string, h *networking.HTTPRoute, r *Route, port uint32) {
	dests := h.GetRoute()
	for i, d := range dests {
		weight := uint32(max(d.GetWeight(), 0))
		if len(dests) == 1 {
			weight = 1
		}
		if weight == 0 {
			continue
		}
		df := fmt.Sprintf("%s.route[%d]", field, i)
		cl, name := c.cluster(vs, df+".destination", d.GetDestination(), port, false)
		ops, authority := compileHeaderOps(d.GetHeaders())
		if authority != "" {
			c.problems.warn(vs, df+".headers", "setting the authority per destination is not supported yet: ignored")
		}
		r.Destinations = append(r.Destinations, &Destination{Cluster: name, Weight: weight, Headers: ops, NotFound: cl == nil, cluster: cl})
		r.totalWeight += weight
	}
	if len(r.Destinations) == 0 {
		c.problems.warn(vs, field+".route", "route has no destination with a weight: requests get 503")
	}
}

// indexServiceEntries indexes the ServiceEntries visible from the workload's namespace by host.
func (c *compiler) indexServiceEntries() {
	c.serviceEntries = map[string][]*policy.Resource{}
	for _, se := range c.snap.List(policy.KindServiceEntry) {
		spec, ok := se.Spec.(*networking.ServiceEntry)
		if !ok || !c.snap.VisibleFrom(se, c.opts.Namespace) {
			continue
		}
		for _, h := range spec.GetHosts() {
			h = strings.ToLower(h)
			c.serviceEntries[h] = append(c.serviceEntries[h], se)
		}
	}
}

// serviceEntry finds the ServiceEntry for an exact host: the one in the VirtualService's
// namespace first (as Istio's gateway does), else the oldest visible one.
func (c *compiler) serviceEntry(host, vsNamespace string) *policy.Resource {
	ses := c.serviceEntries[host]
	for _, se := range ses {
		if se.Namespace == vsNamespace {
			return se
		}
	}
	if len(ses) > 0 {
		return ses[0]
	}
	return nil
}

// cluster resolves a destination to a Cluster. A nil Cluster is Envoy's "cluster not found":
// the route stays (so later routes do not take its requests) and answers 503, or closes the
// connection of an l4 (tcp or tls) route.
func (c *compiler) cluster(vs *policy.Resource, field string, d *networking.Destination, serverPort uint32, l4 bool) (*Cluster, string) {
	host := policy.FQDN(d.GetHost(), vs.Namespace)
	se := c.serviceEntry(host, vs.Namespace)
	outcome := "requests get 503"
	if l4 {
		outcome = "connections are closed"
	}
	if se == nil {
		port := d.GetPort().GetNumber()
		if port == 0 {
			port = serverPort
		}
		c.problems.warn(vs, field+".host", "no ServiceEntry visible from namespace %s has host %s: %s", c.opts.Namespace, host, outcome)
		return nil, clusterName(port, d.GetSubset(), host)
	}
	spec := se.Spec.(*networking.ServiceEntry)
	sp := servicePort(spec, d.GetPort().GetNumber(), serverPort)
	if sp == nil {
		port := d.GetPort().GetNumber()
		if port == 0 {
			port = serverPort
		}
		c.problems.warn(vs, field+".port", "ServiceEntry %s has no port %d for host %s: %s", se.NamespacedName(), port, host, outcome)
		return nil, clusterName(port, d.GetSubset(), host)
	}
	name := clusterName(sp.GetNumber(), d.GetSubset(), host)
	key := name + " " + se.Key()
	if cl, ok := c.clusters[key]; ok {
		return cl, name
	}
	dr := c.destinationRule(host, se.Namespace)
	var subset map[string]string
	if d.GetSubset() != "" {
		var ok bool
		if subset, ok = c.subsetLabels(dr, d.GetSubset()); !ok {
			c.problems.warn(vs, field+".subset", "subset %q of host %s is not defined by a DestinationRule visible from namespace %s: %s", d.GetSubset(), host, c.opts.Namespace, outcome)
			return nil, name
		}
	}
	cl := &Cluster{
		Name:         name,
		ServiceEntry: se.NamespacedName(),
		Resolution:   spec.GetResolution().String(),
		Protocol:     upstreamProtocol(sp.GetProtocol()),
	}
	if spec.GetLocation() == networking.ServiceEntry_MESH_INTERNAL {
		cl.Location = spec.GetLocation().String()
	}
	switch {
	case dr == nil:
	case l4:
		c.applyL4TLS(cl, dr, d.GetSubset(), sp.GetNumber(), host)
	default:
		c.applyTrafficPolicy(cl, dr, d.GetSubset(), sp.GetNumber(), host)
	}
	switch p := strings.ToUpper(sp.GetProtocol()); {
	case l4:
		// Bytes are proxied as they come: TLS passed through stays TLS, and only a
		// DestinationRule tls wraps them in TLS of the gateway's own.
	case (p == "HTTPS" || p == "TLS") && cl.TLS == nil:
		c.problems.warn(se, "spec.ports", "port %d is %s but no DestinationRule tls originates TLS to %s: the gateway sends plaintext HTTP", sp.GetNumber(), p, host)
	}
	if dynamicForwarded(spec, host) {
		// Envoy's dynamic forward proxies (sni_dynamic_forward_proxy for tls and tcp routes,
		// the HTTP filter and cluster for HTTP routes), which Istio configures for
		// DYNAMIC_DNS; at a gateway, with no original destination, NONE can only mean the same.
		cl.DynamicForward = &DynamicForward{Host: host, Port: targetPort(sp)}
		c.dynamicForwardPolicy(cl, dr, field)
		cl.l4TLS = cl.TLS.forL4(cl.Protocol)
		cl.finish()
		c.clusters[key] = cl
		return cl, name
	}
	if spec.GetResolution() == networking.ServiceEntry_NONE {
		c.problems.warn(se, "spec.resolution", "resolution NONE has no meaning at a gateway: the gateway connects to %s (or the endpoints) as with DNS", host)
	}
	eps := c.endpoints(se, spec, sp, host)
	for _, ep := range eps {
		if policy.SelectorMatches(subset, ep.labels) {
			cl.Endpoints = append(cl.Endpoints, &Endpoint{Address: ep.address, Weight: ep.weight, MeshTLS: meshTLSLabel(ep.labels)})
		}
	}
	c.meshTLS(cl, se, spec, eps, sp.GetNumber(), d.GetSubset(), host)
	cl.l4TLS = cl.TLS.forL4(cl.Protocol)
	cl.finish()
	c.clusters[key] = cl
	return cl, name
}

// dynamicForwarded reports whether connections to a ServiceEntry host dial the name the client
// asked for (its SNI, or its request's authority): a wildcard host, DYNAMIC_DNS or NONE
// resolution, and no endpoints to dial instead.
func dynamicForwarded(spec *networking.ServiceEntry, host string) bool {
	switch spec.GetResolution() {
	case networking.ServiceEntry_DYNAMIC_DNS, networking.ServiceEntry_NONE:
	default:
		return false
	}
	return strings.HasPrefix(host, "*") && len(spec.GetEndpoints()) == 0 && spec.GetWorkloadSelector() == nil
}

// dynamicForwardPolicy adapts a dynamic forward cluster's DestinationRule policy to names known
// only per request. TLS origination without tls.sni sends, and verifies, the dialed name (Envoy's
// auto_sni and auto_san_validation, which Istio sets on its dynamic forward clusters) rather
// than the wildcard. The balancer is the cluster's own (Envoy's CLUSTER_PROVIDED): each request
// has one name to dial, so there is nothing to balance.
func (c *compiler) dynamicForwardPolicy(cl *Cluster, dr *policy.Resource, field string) {
	if cl.TLS != nil && strings.HasPrefix(cl.TLS.SNI, "*") {
		cl.TLS.SNI = ""
	}
	if cl.LoadBalancer != nil {
		c.problems.warn(dr, "spec.trafficPolicy.loadBalancer", "a dynamic forward cluster (%s, reached from %s) dials each request's own name: loadBalancer ignored", cl.Name, field)
		cl.LoadBalancer = nil
	}
}

func clusterName(port uint32, subset, host string) string {
	return "outbound|" + strconv.FormatUint(uint64(port), 10) + "|" + subset + "|" + host
}

// servicePort picks the ServiceEntry port a destination means: its port.number, else the only
// port, else the server port (as Istio's GetDestinationCluster falls back to the listener port).
func servicePort(se *networking.ServiceEntry, number, serverPort uint32) *networking.ServicePort {
	if number == 0 {
		if len(se.GetPorts()) == 1 {
			return se.GetPorts()[0]
		}
		number = serverPort
	}
	for _, p := range se.GetPorts() {
		if p.GetNumber() == number {
			return p
		}
	}
	return nil
}

// upstreamProtocol is how the gateway speaks to a port: h2c for HTTP/2 protocols, as Istio
// configures http2_protocol_options for them; HTTP/1.1 for HTTP (and, with a warning, for
// HTTPS); bytes as they come for everything else, which only tcp and tls routes reach as meant.
func upstreamProtocol(p string) string {
	switch strings.ToUpper(p) {
	case "HTTP2", "GRPC", "GRPC-WEB":
		return "HTTP2"
	case "HTTP", "HTTPS", "":
		return "HTTP"
	}
	return "TCP"
}

type endpoint struct {
	address        string
	labels         map[string]string
	weight         uint32
	serviceAccount string
}

// endpoints lists where a ServiceEntry port is served. STATIC uses its endpoints (or the
// WorkloadEntries its workloadSelector selects); DNS uses the endpoints if any, else the host
// name itself. The port is the endpoint's ports[name], else the targetPort, else the number.
func (c *compiler) endpoints(se *policy.Resource, spec *networking.ServiceEntry, sp *networking.ServicePort, host string) []endpoint {
	var out []endpoint
	addWorkload := func(field string, we *networking.WorkloadEntry, labels map[string]string, owner *policy.Resource) {
		addr := we.GetAddress()
		if addr == "" || strings.HasPrefix(addr, "unix://") {
			c.problems.warn(owner, field, "endpoint address %q cannot be dialed by the gateway: skipped", addr)
			return
		}
		port := we.GetPorts()[sp.GetName()]
		if port == 0 {
			port = targetPort(sp)
		}
		out = append(out, endpoint{address: net.JoinHostPort(addr, strconv.FormatUint(uint64(port), 10)), labels: labels, weight: we.GetWeight(), serviceAccount: we.GetServiceAccount()})
	}
	for i, we := range spec.GetEndpoints() {
		addWorkload(fmt.Sprintf("spec.endpoints[%d].address", i), we, we.GetLabels(), se)
	}
	if sel := spec.GetWorkloadSelector(); sel != nil {
		for _, r := range c.snap.List(policy.KindWorkloadEntry) {
			we, ok := r.Spec.(*networking.WorkloadEntry)
			if !ok || r.Namespace != se.Namespace {
				continue
			}
			labels := workloadLabels(r, we)
			if policy.SelectorMatches(sel.GetLabels(), labels) {
				addWorkload("spec.address", we, labels, r)
			}
		}
	}
	if len(out) == 0 && spec.GetResolution() != networking.ServiceEntry_STATIC {
		if strings.HasPrefix(host, "*") {
			// DYNAMIC_DNS and NONE dial the client's name (DynamicForward) and never get
			// here; DNS and DNS_ROUND_ROBIN resolve fixed names, and a wildcard is none.
			c.problems.warn(se, "spec.hosts", "wildcard host %s has no endpoints and resolution %s: routes to it have no name to resolve, so their requests fail; use resolution DYNAMIC_DNS, list the hosts, or give endpoints", host, spec.GetResolution())
			return nil
		}
		out = append(out, endpoint{address: net.JoinHostPort(host, strconv.FormatUint(uint64(targetPort(sp)), 10))})
	}
	slices.SortStableFunc(out, func(a, b endpoint) int { return cmp.Compare(a.address, b.address) })
	return slices.CompactFunc(out, func(a, b endpoint) bool {
		return a.address == b.address && a.weight == b.weight && maps.Equal(a.labels, b.labels) && a.serviceAccount == b.serviceAccount
	})
}

func targetPort(sp *networking.ServicePort) uint32 {
	if sp.GetTargetPort() != 0 {
		return sp.GetTargetPort()
	}
	return sp.GetNumber()
}

// workloadLabels are a WorkloadEntry's metadata labels overlaid with its spec labels.
func workloadLabels(r *policy.Resource, we *networking.WorkloadEntry) map[string]string {
	out := maps.Clone(r.Labels)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, we.GetLabels())
	return out
}

// destinationRule finds the DestinationRule for host, preferring (as Istio does) a rule in the
// gateway's namespace, then the service's, then the root namespace, then an exact host over a
// wildcard, then the oldest.
func (c *compiler) destinationRule(host, serviceNamespace string) *policy.Resource {
	rank := func(dr *policy.Resource) int {
		switch dr.Namespace {
		case c.opts.Namespace:
			return 0
		case serviceNamespace:
			return 1
		case c.snap.RootNamespace():
			return 2
		}
		return 3
	}
	var best *policy.Resource
	bestRank, bestExact := 0, false
	for _, dr := range c.snap.List(policy.KindDestinationRule) {
		spec, ok := dr.Spec.(*networking.DestinationRule)
		if !ok || !c.snap.VisibleFrom(dr, c.opts.Namespace) {
			continue
		}
		h := policy.FQDN(spec.GetHost(), dr.Namespace)
		if !policy.HostMatches(h, host) {
			continue
		}
		r, exact := rank(dr), h == host
		if best == nil || r < bestRank || (r == bestRank && exact && !bestExact) {
			best, bestRank, bestExact = dr, r, exact
		}
	}
	return best
}

// subsetLabels returns the labels of a subset of the DestinationRule dr (which may be nil).
func (c *compiler) subsetLabels(dr *policy.Resource, subset string) (map[string]string, bool) {
	if dr == nil {
		return nil, false
	}
	for _, s := range dr.Spec.(*networking.DestinationRule).GetSubsets() {
		if s.GetName() == subset {
			return s.GetLabels(), true
		}
	}
	return nil, false
}
