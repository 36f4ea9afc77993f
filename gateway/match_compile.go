package gateway

import (
	"cmp"
	"fmt"
	"maps"
	"net/textproto"
	"regexp"
	"slices"
	"strings"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// jwtClaimPrefix marks Istio's JWT claim routing headers ("@request.auth.claims.group").
const jwtClaimPrefix = "@request.auth.claims"

// compileMatch translates a match block as Istio's TranslateRouteMatch does. A nil block matches
// every request (prefix "/"). ok=false means a regex did not compile and the route is dropped.
func (c *compiler) compileMatch(vs *policy.Resource, field string, m *networking.HTTPMatchRequest) (*RouteMatch, bool) {
	out := &RouteMatch{Path: &StringMatch{Kind: MatchPrefix, Value: "/"}}
	if m == nil {
		return out, true
	}
	ok := true
	if m.GetUri() != nil {
		p, err := compilePathMatch(m.GetUri(), m.GetIgnoreUriCase())
		if err != nil {
			c.problems.fail(vs, field+".uri", "%v", err)
			ok = false
		} else {
			out.Path = p
		}
	}
	add := func(sub, name string, sm *networking.StringMatch, invert bool) {
		if strings.HasPrefix(name, jwtClaimPrefix) {
			c.problems.warn(vs, sub, "routing on JWT claims (%s) is not supported yet: this match block matches nothing", name)
			out.Never = true
			return
		}
		compiled, err := compileStringMatch(sm, false)
		if err != nil {
			c.problems.fail(vs, sub, "%v", err)
			ok = false
			return
		}
		out.Headers = append(out.Headers, &HeaderMatch{Name: name, Match: compiled, Invert: invert, key: textproto.CanonicalMIMEHeaderKey(name)})
	}
	for _, name := range slices.Sorted(maps.Keys(m.GetHeaders())) {
		add(fmt.Sprintf("%s.headers.%s", field, name), strings.ToLower(name), m.GetHeaders()[name], false)
	}
	for _, name := range slices.Sorted(maps.Keys(m.GetWithoutHeaders())) {
		add(fmt.Sprintf("%s.withoutHeaders.%s", field, name), strings.ToLower(name), m.GetWithoutHeaders()[name], true)
	}
	slices.SortStableFunc(out.Headers, func(a, b *HeaderMatch) int { return cmp.Compare(a.Name, b.Name) })
	if m.GetMethod() != nil {
		add(field+".method", ":method", m.GetMethod(), false)
	}
	if m.GetAuthority() != nil {
		add(field+".authority", ":authority", m.GetAuthority(), false)
	}
	if m.GetScheme() != nil {
		add(field+".scheme", ":scheme", m.GetScheme(), false)
	}
	for _, name := range slices.Sorted(maps.Keys(m.GetQueryParams())) {
		compiled, err := compileStringMatch(m.GetQueryParams()[name], false)
		if err != nil {
			c.problems.fail(vs, fmt.Sprintf("%s.queryParams.%s", field, name), "%v", err)
			ok = false
			continue
		}
		out.QueryParams = append(out.QueryParams, &QueryParamMatch{Name: name, Match: compiled})
	}
	return out, ok
}

// compilePathMatch compiles a uri match. Unlike headers, a uri regex "*" is not a presence
// check; an empty uri match is a prefix "/".
func compilePathMatch(sm *networking.StringMatch, ignoreCase bool) (*StringMatch, error) {
	if re, ok := sm.GetMatchType().(*networking.StringMatch_Regex); ok {
		compiled, err := regexp.Compile(`^(?:` + re.Regex + `)$`)
		if err != nil {
			return nil, fmt.Errorf("regex %q: %w", re.Regex, err)
		}
		return &StringMatch{Kind: MatchRegex, Value: re.Regex, re: compiled}, nil
	}
	if sm.GetMatchType() == nil {
		return &StringMatch{Kind: MatchPrefix, Value: "/"}, nil
	}
	return compileStringMatch(sm, ignoreCase)
}
