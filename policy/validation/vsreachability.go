package validation

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	networking "istio.io/api/networking/v1alpha3"
)

// warnUnreachableRoutes warns about rules and matches that can never be selected because an
// earlier rule takes every request they would match. Routes are tried in order, so this is a
// mistake in the config, but Istio only warns about it.
func warnUnreachableRoutes(vs *networking.VirtualService, r *report) {
	warnUnreachableHTTP(vs.GetHttp(), r)
	tcp := make([][]proto.Message, len(vs.GetTcp()))
	for i, t := range vs.GetTcp() {
		tcp[i] = asMessages(t.GetMatch())
	}
	warnUnreachableL4("spec.tcp", tcp, r)
	tls := make([][]proto.Message, len(vs.GetTls()))
	for i, t := range vs.GetTls() {
		tls[i] = asMessages(t.GetMatch())
	}
	warnUnreachableL4("spec.tls", tls, r)
}

func asMessages[M proto.Message](ms []M) []proto.Message {
	out := make([]proto.Message, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out
}

func ruleLabel(name string, i int) string {
	if name != "" {
		return fmt.Sprintf("%q", name)
	}
	return fmt.Sprintf("#%d", i)
}

func warnUnused(field, rule, reason string, r *report) {
	r.warnf(field, "virtualService rule %s not used (%s)", rule, reason)
}

func warnIneffective(field, rule, match, by string, r *report) {
	r.warnf(field, "virtualService rule %s match %s is not used (duplicate/overlapping match in rule %s)", rule, match, by)
}

type seenMatch struct {
	rule int
	m    *networking.HTTPMatchRequest
}

func warnUnreachableHTTP(routes []*networking.HTTPRoute, r *report) {
	catchAll := -1
	var seen []seenMatch
	for i, h := range routes {
		if h == nil {
			continue
		}
		field := path("spec.http", i)
		rule := ruleLabel(h.GetName(), i)
		if catchAll >= 0 {
			reason := "route without matches defined before"
			if len(h.GetMatch()) == 0 {
				reason = "only the last rule can have no matches"
			}
			warnUnused(field, rule, reason, r)
			continue
		}
		if len(h.GetMatch()) == 0 {
			catchAll = i
			continue
		}
		shadowed := 0
		for j, m := range h.GetMatch() {
			if m == nil {
				continue
			}
			label := ruleLabel(m.GetName(), j)
			if k := slices.IndexFunc(seen, func(s seenMatch) bool { return httpMatchCovers(s.m, m) }); k >= 0 {
				by := ruleLabel(routes[seen[k].rule].GetName(), seen[k].rule)
				warnIneffective(path(path(field, "match"), j), rule, label, by, r)
				if seen[k].rule != i {
					shadowed++
				}
				continue
			}
			seen = append(seen, seenMatch{rule: i, m: m})
		}
		if shadowed == len(h.GetMatch()) {
			warnUnused(field, rule, "all matches used by prior rules", r)
		}
	}
}

// warnUnreachableL4 does for TCP and TLS routes what warnUnreachableHTTP does, counting only
// identical matches as shadowing (L4 match fields do not nest the way HTTP prefixes do).
func warnUnreachableL4(field string, rules [][]proto.Message, r *report) {
	catchAll := -1
	type seenL4 struct {
		rule int
		m    proto.Message
	}
	var seen []seenL4
	for i, matches := range rules {
		f := path(field, i)
		rule := ruleLabel("", i)
		if catchAll >= 0 {
			reason := "route without matches defined before"
			if len(matches) == 0 {
				reason = "only the last rule can have no matches"
			}
			warnUnused(f, rule, reason, r)
			continue
		}
		if len(matches) == 0 {
			catchAll = i
			continue
		}
		shadowed := 0
		for j, m := range matches {
			if k := slices.IndexFunc(seen, func(s seenL4) bool { return proto.Equal(s.m, m) }); k >= 0 {
				warnIneffective(path(path(f, "match"), j), rule, ruleLabel("", j), ruleLabel("", seen[k].rule), r)
				if seen[k].rule != i {
					shadowed++
				}
				continue
			}
			seen = append(seen, seenL4{rule: i, m: m})
		}
		if shadowed == len(matches) {
			warnUnused(f, rule, "all matches used by prior rules", r)
		}
	}
}

// httpMatchCovers reports whether every request matched by b is also matched by a, so that a
// listed first makes b unreachable. It errs towards "no": a regex only covers the same regex.
func httpMatchCovers(a, b *networking.HTTPMatchRequest) bool {
	if a.GetIgnoreUriCase() != b.GetIgnoreUriCase() && a.GetUri() != nil {
		return false
	}
	if a.GetPort() != 0 && a.GetPort() != b.GetPort() {
		return false
	}
	if a.GetSourceNamespace() != "" && a.GetSourceNamespace() != b.GetSourceNamespace() {
		return false
	}
	if len(a.GetGateways()) > 0 && !slices.Equal(a.GetGateways(), b.GetGateways()) {
		return false
	}
	for k, v := range a.GetSourceLabels() {
		if bv, ok := b.GetSourceLabels()[k]; !ok || bv != v {
			return false
		}
	}
	// A request b matches lacks each header b excludes; a needs its own exclusions among them.
	for k, am := range a.GetWithoutHeaders() {
		if bm, ok := b.GetWithoutHeaders()[k]; !ok || !proto.Equal(am, bm) {
			return false
		}
	}
	return stringMatchCovers(a.GetUri(), b.GetUri()) &&
		stringMatchCovers(a.GetScheme(), b.GetScheme()) &&
		stringMatchCovers(a.GetMethod(), b.GetMethod()) &&
		stringMatchCovers(a.GetAuthority(), b.GetAuthority()) &&
		stringMatchMapCovers(a.GetHeaders(), b.GetHeaders()) &&
		stringMatchMapCovers(a.GetQueryParams(), b.GetQueryParams())
}

func stringMatchMapCovers(a, b map[string]*networking.StringMatch) bool {
	for k, am := range a {
		bm, ok := b[k]
		if !ok || !stringMatchCovers(am, bm) {
			return false
		}
	}
	return true
}

// stringMatchCovers reports whether every value b matches is matched by a; an absent a matches
// everything.
func stringMatchCovers(a, b *networking.StringMatch) bool {
	if a.GetMatchType() == nil {
		return true
	}
	switch am := a.GetMatchType().(type) {
	case *networking.StringMatch_Exact:
		_, ok := b.GetMatchType().(*networking.StringMatch_Exact)
		return ok && b.GetExact() == am.Exact
	case *networking.StringMatch_Prefix:
		switch bm := b.GetMatchType().(type) {
		case *networking.StringMatch_Exact:
			return strings.HasPrefix(bm.Exact, am.Prefix)
		case *networking.StringMatch_Prefix:
			return strings.HasPrefix(bm.Prefix, am.Prefix)
		}
	case *networking.StringMatch_Regex:
		_, ok := b.GetMatchType().(*networking.StringMatch_Regex)
		return ok && b.GetRegex() == am.Regex
	}
	return false
}
