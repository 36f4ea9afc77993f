package jwt

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/gatehouse-dev/gatehouse/policy"
	security "istio.io/api/security/v1beta1"
)

// Authenticator is the compiled RequestAuthentication set that applies to one workload. Building
// one does all parsing; Authenticate does none. A nil *Authenticator authenticates nothing.
type Authenticator struct {
	keys    *Keys
	rules   []*rule
	headers []headerLoc
	params  []namedLoc
	cookies []namedLoc
	// sanitize lists the output headers of every rule: a client must not be able to send what
	// looks like a verified claim (Envoy removes forward_payload_header from every request).
	sanitize []string
}

// NewAuthenticator compiles the jwtRules of the given RequestAuthentication resources, in order.
// It does no network I/O: remote keys are fetched in the background and on first need.
func NewAuthenticator(keys *Keys, policies []*policy.Resource) (*Authenticator, error) {
	a := &Authenticator{keys: keys}
	for _, res := range policies {
		if res == nil {
			continue
		}
		ra, ok := res.Spec.(*security.RequestAuthentication)
		if !ok {
			return nil, fmt.Errorf("%s: spec is %T, not a RequestAuthentication", res.Key(), res.Spec)
		}
		if len(ra.GetJwtRules()) > 0 && keys == nil {
			return nil, fmt.Errorf("%s: jwtRules need Keys", res.Key())
		}
		for i, jr := range ra.GetJwtRules() {
			if jr == nil {
				continue
			}
			idx := len(a.rules)
			r := compileRule(keys, describeRule(res.Namespace, res.Name, i), jr)
			a.rules = append(a.rules, r)
			headers, params, cookies := ruleLocations(jr)
			for _, h := range headers {
				a.addHeader(h.name, h.prefix, idx)
			}
			for _, p := range params {
				a.params = addNamed(a.params, p, idx)
			}
			for _, c := range cookies {
				a.cookies = addNamed(a.cookies, c, idx)
			}
			if r.payloadHeader != "" {
				a.sanitize = appendUnique(a.sanitize, http.CanonicalHeaderKey(r.payloadHeader))
			}
			for _, ch := range r.claimHeaders {
				a.sanitize = appendUnique(a.sanitize, http.CanonicalHeaderKey(ch.header))
			}
		}
	}
	a.sanitize = slices.Clip(a.sanitize)
	return a, nil
}

func (a *Authenticator) addHeader(name, prefix string, idx int) {
	for i := range a.headers {
		if a.headers[i].name == name && a.headers[i].prefix == prefix {
			a.headers[i].rules = append(a.headers[i].rules, idx)
			return
		}
	}
	a.headers = append(a.headers, headerLoc{name: name, prefix: prefix, rules: []int{idx}})
}

func addNamed(locs []namedLoc, name string, idx int) []namedLoc {
	for i := range locs {
		if locs[i].name == name {
			locs[i].rules = append(locs[i].rules, idx)
			return locs
		}
	}
	return append(locs, namedLoc{name: name, rules: []int{idx}})
}

func appendUnique(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// distinct is one token value with every location it was found in.
type distinct struct {
	raw     string
	rules   []int
	headers []string
}

// Authenticate applies Istio's RequestAuthentication semantics: no token passes with no identity;
// every token present must verify; see verifyOne for which rule verifies a token.
//
// Tokens in two locations: Istio leaves the principal undefined. Here the same token value in
// several places (header and cookie, say) counts once; two different tokens are each verified
// (an invalid one fails with its own reason), and if both are valid the request is still denied
// with Envoy's "Found multiple Jwt tokens": no identity is made up from two tokens.
func (a *Authenticator) Authenticate(ctx context.Context, in Input) Result {
	if a == nil || len(a.rules) == 0 {
		return Result{}
	}
	res := Result{RemoveHeaders: a.sanitize}
	tokens := a.extract(in)
	if len(tokens) == 0 {
		return res
	}
	groups := make([]distinct, 0, 1)
	for _, f := range tokens {
		j := slices.IndexFunc(groups, func(d distinct) bool { return d.raw == f.raw })
		if j < 0 {
			groups = append(groups, distinct{raw: f.raw})
			j = len(groups) - 1
		}
		g := &groups[j]
		for _, r := range f.rules {
			if !slices.Contains(g.rules, r) {
				g.rules = append(g.rules, r)
			}
		}
		if f.header != "" && !slices.Contains(g.headers, f.header) {
			g.headers = append(g.headers, f.header)
		}
	}
	var tok *token
	var by *rule
	for i := range groups {
		slices.Sort(groups[i].rules)
		t, r, st := a.verifyOne(ctx, groups[i].raw, groups[i].rules)
		if st != statusOK {
			res.Failure = failure(st, in)
			return res
		}
		if i == 0 {
			tok, by = t, r
		}
	}
	if len(groups) > 1 {
		res.Failure = failure(statusMultipleTokens, in)
		return res
	}
	res.Identity = &Identity{
		Issuer: tok.iss, Subject: tok.sub, Audiences: tok.aud, Presenter: tok.azp,
		Claims: tok.claims, spaceDelimited: by.spaceDelimited,
	}
	if by.payloadHeader != "" {
		res.SetHeaders = append(res.SetHeaders, Header{Name: by.payloadHeader, Value: tok.payloadB64})
	}
	for _, ch := range by.claimHeaders {
		if v, ok := claimHeaderValue(tok.claims, ch.path); ok {
			res.SetHeaders = append(res.SetHeaders, Header{Name: ch.header, Value: v})
		}
	}
	if !by.forward && len(groups[0].headers) > 0 {
		// Envoy removes a token only from headers; query parameters and cookies stay as sent.
		res.RemoveHeaders = append(slices.Clip(res.RemoveHeaders), groups[0].headers...)
	}
	return res
}
