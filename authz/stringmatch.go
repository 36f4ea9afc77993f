package authz

import "strings"

// matchKind is how one policy value compares with a request attribute, as Istio translates a value
// into an Envoy StringMatcher: "*" alone, a leading "*" (suffix), a trailing "*" (prefix), or exact.
type matchKind uint8

const (
	matchExact matchKind = iota
	matchPrefix
	matchSuffix
	// matchNonEmpty is Istio's translation of "*" for most attributes: the regex ".+", so an
	// attribute that is absent or empty does not match.
	matchNonEmpty
	// matchPresent is Istio's translation of "*" for headers and hosts: Envoy's present_match,
	// true for a header that is there even when empty.
	matchPresent
)

// stringMatch is one compiled value. A '*' anywhere but at one end is a literal, as in Istio.
type stringMatch struct {
	kind       matchKind
	s          string
	ignoreCase bool
}

// newStringMatch compiles v as Istio's matcher.StringMatcher does ("*" -> ".+").
func newStringMatch(v string) stringMatch {
	switch {
	case v == "*":
		return stringMatch{kind: matchNonEmpty}
	case strings.HasPrefix(v, "*"):
		return stringMatch{kind: matchSuffix, s: v[1:]}
	case strings.HasSuffix(v, "*"):
		return stringMatch{kind: matchPrefix, s: v[:len(v)-1]}
	}
	return stringMatch{kind: matchExact, s: v}
}

// newHeaderMatch compiles v as Istio's matcher.HeaderMatcher does ("*" -> present).
func newHeaderMatch(v string) stringMatch {
	m := newStringMatch(v)
	if m.kind == matchNonEmpty {
		m.kind = matchPresent
	}
	return m
}

// newHostMatch compiles v as Istio's matcher.HostMatcher does: like a header, ignoring case (RFC 4343;
// Istio fixed the case-sensitive comparison in 1.11.1 as a security issue).
func newHostMatch(v string) stringMatch {
	m := newHeaderMatch(v)
	m.ignoreCase = true
	return m
}

// match reports whether the attribute value s, present or not, matches.
func (m stringMatch) match(s string, present bool) bool {
	if !present {
		return false
	}
	switch m.kind {
	case matchPresent:
		return true
	case matchNonEmpty:
		return s != ""
	case matchPrefix:
		if m.ignoreCase {
			return len(s) >= len(m.s) && strings.EqualFold(s[:len(m.s)], m.s)
		}
		return strings.HasPrefix(s, m.s)
	case matchSuffix:
		if m.ignoreCase {
			return len(s) >= len(m.s) && strings.EqualFold(s[len(s)-len(m.s):], m.s)
		}
		return strings.HasSuffix(s, m.s)
	}
	if m.ignoreCase {
		return strings.EqualFold(s, m.s)
	}
	return s == m.s
}

// anyString reports whether any of ms matches s.
func anyString(ms []stringMatch, s string, present bool) bool {
	for _, m := range ms {
		if m.match(s, present) {
			return true
		}
	}
	return false
}

// globMatch reports whether s matches pattern, where '*' is any run of bytes (regex ".*") and every
// other byte is literal. Istio builds such regexes for namespaces (".*/ns/<value>/.*" with '*' in the
// value turned into ".*"); this is the same full-string match without a regexp engine.
func globMatch(pattern, s string) bool {
	px, sx := 0, 0
	starP, starS := -1, -1
	for sx < len(s) {
		switch {
		case px < len(pattern) && pattern[px] == '*':
			starP, starS = px, sx
			px++
		case px < len(pattern) && pattern[px] == s[sx]:
			px++
			sx++
		case starP >= 0:
			starS++
			px, sx = starP+1, starS
		default:
			return false
		}
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}
