package validation

import (
	"fmt"
	"regexp"
	"strings"
)

// Host names in routing compare as Istio's host.Name does: a leading "*" matches any prefix, so
// "*" matches everything and "*.example.com" matches "a.example.com" and "*.a.example.com".

func isWildcardHost(h string) bool {
	return strings.HasPrefix(h, "*")
}

// hostsOverlap reports whether some name could match both a and b.
func hostsOverlap(a, b string) bool {
	switch {
	case isWildcardHost(a) && isWildcardHost(b):
		if len(a) < len(b) {
			return strings.HasSuffix(b[1:], a[1:])
		}
		return strings.HasSuffix(a[1:], b[1:])
	case isWildcardHost(a):
		return strings.HasSuffix(b, a[1:])
	case isWildcardHost(b):
		return strings.HasSuffix(a, b[1:])
	}
	return a == b
}

// hostSubsetOf reports whether every name matched by a is also matched by b.
func hostSubsetOf(a, b string) bool {
	switch {
	case isWildcardHost(a) && isWildcardHost(b):
		return len(a) >= len(b) && strings.HasSuffix(a[1:], b[1:])
	case isWildcardHost(a):
		return false
	case isWildcardHost(b):
		return strings.HasSuffix(a, b[1:])
	}
	return a == b
}

// Istio generates SNI names like "outbound_.80_._.reviews.default.svc.cluster.local" for
// AUTO_PASSTHROUGH gateways; a first label of "outbound_" is allowed in SNI hosts of
// gateway-bound VirtualServices when the rest has that shape.
var outboundSNIRe = regexp.MustCompile(`outbound_.([0-8].*).*`)

// gatewayVirtualHostProblem is wildcardDomainProblem for hosts of a VirtualService bound to
// gateways, where sni says the host is matched against SNI.
func gatewayVirtualHostProblem(sni bool, host string) string {
	if sni {
		if first, _, _ := strings.Cut(host, "."); first == "outbound_" {
			if reason := domainLengthProblem(host); reason != "" {
				return reason
			}
			if !outboundSNIRe.MatchString(host) {
				return fmt.Sprintf("domain name %q invalid (label %q invalid)", host, "outbound_")
			}
			return ""
		}
	}
	return wildcardDomainProblem(host)
}
