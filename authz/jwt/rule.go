package jwt

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	security "istio.io/api/security/v1beta1"
)

// clockSkew is Envoy's default clock_skew_seconds (kClockSkewInSecond); Istio does not set it.
const clockSkew = 60 * time.Second

// rule is one compiled jwtRule: Envoy's JwtProvider as istiod would build it.
type rule struct {
	where          string // "RequestAuthentication ns/name: spec.jwtRules[i]", for logs
	issuer         string // empty: any issuer (Envoy's provider without issuer)
	audiences      map[string]struct{}
	source         keySource
	timeout        time.Duration
	forward        bool
	payloadHeader  string
	claimHeaders   []claimHeader
	spaceDelimited map[string]bool
}

type claimHeader struct {
	header string
	path   []string
}

// keySource yields a rule's keys. ready never blocks: it returns the keys at hand, or nil when
// none were fetched yet. keySet may fetch; refetch asks for a fresh copy (an unknown kid).
type keySource interface {
	ready() *keySet
	keySet(ctx context.Context, refetch bool) (*keySet, error)
}

type inlineSource struct{ ks *keySet }

func (s inlineSource) ready() *keySet                                { return s.ks }
func (s inlineSource) keySet(context.Context, bool) (*keySet, error) { return s.ks, nil }

type remoteSource struct{ r *remote }

func (s remoteSource) ready() *keySet { return s.r.ready() }
func (s remoteSource) keySet(ctx context.Context, refetch bool) (*keySet, error) {
	return s.r.get(ctx, refetch)
}

type discoverySource struct{ d *discovered }

func (s discoverySource) ready() *keySet {
	s.d.mu.Lock()
	r := s.d.remote
	s.d.mu.Unlock()
	if r == nil {
		return nil
	}
	return r.ready()
}

func (s discoverySource) keySet(ctx context.Context, refetch bool) (*keySet, error) {
	r, err := s.d.resolve(ctx)
	if err != nil {
		return nil, err
	}
	return r.get(ctx, refetch)
}

func compileRule(keys *Keys, where string, jr *security.JWTRule) *rule {
	r := &rule{
		where:          where,
		issuer:         jr.GetIssuer(),
		timeout:        DefaultFetchTimeout,
		forward:        jr.GetForwardOriginalToken(),
		payloadHeader:  jr.GetOutputPayloadToHeader(),
		spaceDelimited: map[string]bool{"scope": true, "permission": true},
	}
	if d := jr.GetTimeout(); d != nil && d.AsDuration() > 0 {
		r.timeout = d.AsDuration()
	}
	if len(jr.GetAudiences()) > 0 {
		r.audiences = map[string]struct{}{}
		for _, a := range jr.GetAudiences() {
			r.audiences[sanitizeAudience(a)] = struct{}{}
		}
	}
	for _, c := range jr.GetOutputClaimToHeaders() {
		if c.GetHeader() == "" || c.GetClaim() == "" {
			continue
		}
		r.claimHeaders = append(r.claimHeaders, claimHeader{header: c.GetHeader(), path: strings.Split(c.GetClaim(), ".")})
	}
	for _, c := range jr.GetSpaceDelimitedClaims() {
		r.spaceDelimited[c] = true
	}
	switch {
	case jr.GetJwks() != "": // inline wins over jwksUri
		ks, err := parseInlineJWKS(jr.GetJwks())
		if err != nil {
			// Envoy accepts the config and fails each token with "Jwks doesn't have any valid
			// public key"; the same happens here, with the reason in the log.
			keys.log.Warn("inline jwks unusable", "rule", where, "error", err)
		}
		r.source = inlineSource{ks}
	case jr.GetJwksUri() != "":
		r.source = remoteSource{keys.remoteFor(jr.GetJwksUri(), r.issuer, r.timeout)}
	default:
		r.source = discoverySource{keys.discoveredFor(r.issuer, r.timeout)}
	}
	return r
}

// sanitizeAudience is Envoy's CheckAudience normalisation: users write "https://api/" where the
// token says "api", so the http(s) scheme and a trailing slash are ignored on both sides.
func sanitizeAudience(aud string) string {
	if aud == "" {
		return aud
	}
	if s, ok := strings.CutPrefix(aud, "http://"); ok {
		aud = s
	} else if s, ok := strings.CutPrefix(aud, "https://"); ok {
		aud = s
	}
	return strings.TrimSuffix(aud, "/")
}

func (r *rule) audienceAllowed(aud []string) bool {
	if len(r.audiences) == 0 {
		return true
	}
	for _, a := range aud {
		if _, ok := r.audiences[sanitizeAudience(a)]; ok {
			return true
		}
	}
	return false
}

// locations of one rule, with Istio's default when none is given.
func ruleLocations(jr *security.JWTRule) (headers []headerLoc, params, cookies []string) {
	for _, h := range jr.GetFromHeaders() {
		if h.GetName() != "" {
			headers = append(headers, headerLoc{name: http.CanonicalHeaderKey(h.GetName()), prefix: h.GetPrefix()})
		}
	}
	for _, p := range jr.GetFromParams() {
		if p != "" {
			params = append(params, p)
		}
	}
	for _, c := range jr.GetFromCookies() {
		if c != "" {
			cookies = append(cookies, c)
		}
	}
	if len(headers) == 0 && len(params) == 0 && len(cookies) == 0 {
		headers = []headerLoc{{name: "Authorization", prefix: "Bearer "}}
		params = []string{"access_token"}
	}
	return headers, params, cookies
}

func describeRule(ns, name string, i int) string {
	return fmt.Sprintf("RequestAuthentication %s/%s: spec.jwtRules[%d]", ns, name, i)
}
