package authz

import "strings"

// Peer identity matchers. Request.SourcePrincipal is the peer's SPIFFE ID without "spiffe://"
// ("cluster.local/ns/default/sa/sleep"), "" without mTLS. Istio matches Envoy's authenticated
// principal, the full URI SAN, so every pattern here is the Istio regex or StringMatcher with the
// "spiffe://" scheme taken out on both sides.

// principalMatch compiles a principals/source.principal value. Istio prefixes it with "spiffe://":
// exact and prefix keep their meaning, "*x" becomes the regex "spiffe://.*x" (a suffix), and "*" is
// ".+" (any authenticated peer).
func principalMatch(v string) stringMatch { return newStringMatch(v) }

// namespaceMatch is a namespaces/source.namespace value. Istio matches the regex ".*/ns/<v>/.*" on
// the URI SAN, with every '*' in v read as ".*".
type namespaceMatch struct {
	// anywhere is "*/ns/<v>/*" against the principal; atStart is "ns/<v>/*", the same regex when
	// "/ns/" straddles the scheme's last '/' ("spiffe://ns/<v>/...").
	anywhere, atStart string
}

func newNamespaceMatch(v string) namespaceMatch {
	return namespaceMatch{anywhere: "*/ns/" + v + "/*", atStart: "ns/" + v + "/*"}
}

func (m namespaceMatch) match(principal string) bool {
	if principal == "" {
		return false
	}
	return globMatch(m.anywhere, principal) || globMatch(m.atStart, principal)
}

// serviceAccountMatch is a serviceAccounts/source.serviceAccount value, "sa" (the policy's namespace)
// or "ns/sa". Istio matches the regex "spiffe://.+/ns/<ns>/(.+/|)sa/<sa>(/.+)?": a non-empty trust
// domain, the namespace, optional path elements, the service account, and optional trailing
// elements after a '/' so that "sa/web" never matches "sa/web-admin".
type serviceAccountMatch struct {
	ns, sa string
}

func newServiceAccountMatch(policyNamespace, v string) serviceAccountMatch {
	ns, sa, ok := strings.Cut(v, "/")
	if !ok {
		ns, sa = policyNamespace, v
	}
	return serviceAccountMatch{ns: ns, sa: sa}
}

// match tries every "/ns/<ns>/" after a non-empty trust domain, since ".+" may itself contain such
// text.
func (m serviceAccountMatch) match(p string) bool {
	for start := 1; start < len(p); {
		i := indexNS(p[start:], m.ns)
		if i < 0 {
			return false
		}
		at := start + i
		rest := p[at+len("/ns/")+len(m.ns)+1:]
		if m.saTail(rest) {
			return true
		}
		start = at + 1
	}
	return false
}

// indexNS finds "/ns/<ns>/" in s without building the string.
func indexNS(s, ns string) int {
	for off := 0; ; {
		i := strings.Index(s[off:], "/ns/")
		if i < 0 {
			return -1
		}
		i += off
		r := s[i+len("/ns/"):]
		if strings.HasPrefix(r, ns) && len(r) > len(ns) && r[len(ns)] == '/' {
			return i
		}
		off = i + 1
	}
}

// saTail matches "(.+/|)sa/<sa>(/.+)?" against what follows "/ns/<ns>/".
func (m serviceAccountMatch) saTail(rest string) bool {
	for off := 0; off <= len(rest); {
		i := strings.Index(rest[off:], "sa/")
		if i < 0 {
			return false
		}
		i += off
		// "(.+/|)": either nothing before "sa/", or at least one byte then '/'.
		if i == 0 || (i >= 2 && rest[i-1] == '/') {
			r := rest[i+len("sa/"):]
			if strings.HasPrefix(r, m.sa) {
				tail := r[len(m.sa):]
				if tail == "" || (tail[0] == '/' && len(tail) > 1) {
					return true
				}
			}
		}
		off = i + 1
	}
	return false
}

// trustDomain returns the trust domain of a principal: the SPIFFE ID's authority.
func trustDomain(principal string) string {
	td, _, _ := strings.Cut(principal, "/")
	return td
}
