package policy

import (
	"strings"
)

// ClusterDomain is the DNS suffix Istio appends to short service names.
const ClusterDomain = "cluster.local"

// FQDN resolves a host as Istio does for a resource in namespace ns: a short name ("reviews")
// becomes "reviews.<ns>.svc.cluster.local"; a name with a dot, or a wildcard, is used as written.
func FQDN(host, ns string) string {
	if host == "*" || strings.Contains(host, ".") {
		return strings.ToLower(host)
	}
	return strings.ToLower(host) + "." + ns + ".svc." + ClusterDomain
}

// HostMatches reports whether host is covered by pattern, case-insensitively: "*" covers every
// host, "*.example.com" covers any name ending in ".example.com", anything else only itself.
func HostMatches(pattern, host string) bool {
	pattern, host = strings.ToLower(pattern), strings.ToLower(host)
	if pattern == "*" || pattern == host {
		return true
	}
	if suffix, ok := strings.CutPrefix(pattern, "*"); ok {
		return strings.HasSuffix(host, suffix) && len(host) > len(suffix)
	}
	return false
}

// HostsIntersect reports whether two hosts, either of which may be a wildcard, can name the same
// host (Istio's rule for binding VirtualService hosts to Gateway server hosts).
func HostsIntersect(a, b string) bool {
	return HostMatches(a, b) || HostMatches(b, a) || bothWildcardsOverlap(a, b)
}

func bothWildcardsOverlap(a, b string) bool {
	as, aw := strings.CutPrefix(strings.ToLower(a), "*")
	bs, bw := strings.CutPrefix(strings.ToLower(b), "*")
	return aw && bw && (strings.HasSuffix(as, bs) || strings.HasSuffix(bs, as))
}

// SplitGatewayHost splits a Gateway server host "ns/host" into its namespace part ("*" when
// absent, "." for the Gateway's own namespace) and host.
func SplitGatewayHost(h string) (ns, host string) {
	if ns, host, ok := strings.Cut(h, "/"); ok {
		return ns, host
	}
	return "*", h
}

// GatewayRef resolves a VirtualService's gateways entry as Istio does: "ns/name" is explicit,
// "./name" and "name" are in the VirtualService's namespace, and the legacy
// "name.ns.svc.cluster.local" names ns. The reserved "mesh" (and "") report ok=false.
func GatewayRef(vsNamespace, ref string) (ns, name string, ok bool) {
	if ref == "mesh" || ref == "" {
		return "", "", false
	}
	if ns, name, found := strings.Cut(ref, "/"); found {
		if ns == "." {
			ns = vsNamespace
		}
		return ns, name, true
	}
	if name, rest, found := strings.Cut(ref, "."); found {
		ns, _, _ := strings.Cut(rest, ".")
		return ns, name, true
	}
	return vsNamespace, ref, true
}

// SelectorMatches reports whether every selector label equals the workload's (an empty selector
// matches every workload), as Istio's workload selectors do.
func SelectorMatches(selector, labels map[string]string) bool {
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}
