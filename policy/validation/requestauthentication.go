package validation

import (
	"net/url"

	security "istio.io/api/security/v1beta1"
)

// CRD bounds on a RequestAuthentication.
const (
	maxJWTRules             = 4096
	maxJwksURILength        = 2048
	maxSpaceDelimitedClaims = 64
)

func validateRequestAuthentication(meta Meta, ra *security.RequestAuthentication, r *report) {
	validateNoDryRun(meta, r)
	validatePolicyTarget(ra.GetSelector(), ra.GetTargetRef(), ra.GetTargetRefs(), r)
	if len(ra.GetJwtRules()) > maxJWTRules {
		r.errorf("spec.jwtRules", "too many jwtRules: %d, at most %d allowed", len(ra.GetJwtRules()), maxJWTRules)
	}
	for i, rule := range ra.GetJwtRules() {
		if rule != nil {
			validateJWTRule(path("spec.jwtRules", i), rule, r)
		}
	}
}

func validateJWTRule(field string, rule *security.JWTRule, r *report) {
	// The keys are found from jwksUri, or from the issuer's OpenID discovery document; with
	// neither there is nowhere to look for them.
	if rule.GetIssuer() == "" && rule.GetJwksUri() == "" {
		r.errorf(field, "issuer or jwksUri must be set: without either the signing keys cannot be found")
	}
	for i, aud := range rule.GetAudiences() {
		if aud == "" {
			r.errorf(path(path(field, "audiences"), i), "audience must be a non-empty string")
		}
	}
	if rule.GetJwksUri() != "" && rule.GetJwks() != "" {
		r.errorf(field, "only one of jwks or jwksUri can be set")
	}
	if u := rule.GetJwksUri(); u != "" {
		validateJwksURI(path(field, "jwksUri"), u, r)
	}
	if jwks := rule.GetJwks(); jwks != "" {
		validateInlineJWKS(path(field, "jwks"), jwks, r)
	}
	validateTokenLocations(field, rule, r)
	validateClaimOutputs(field, rule, r)
	if rule.GetTimeout() != nil {
		validateDuration(path(field, "timeout"), rule.GetTimeout(), r)
	}
	claims := path(field, "spaceDelimitedClaims")
	if len(rule.GetSpaceDelimitedClaims()) > maxSpaceDelimitedClaims {
		r.errorf(claims, "too many spaceDelimitedClaims: %d, at most %d allowed", len(rule.GetSpaceDelimitedClaims()), maxSpaceDelimitedClaims)
	}
	for i, c := range rule.GetSpaceDelimitedClaims() {
		if c == "" {
			r.errorf(path(claims, i), "claim name must be a non-empty string")
		}
	}
}

// validateJwksURI: the keys are fetched from it, so it must be an absolute http(s) URL.
func validateJwksURI(field, raw string, r *report) {
	if len(raw) > maxJwksURILength {
		r.errorf(field, "jwksUri is longer than %d characters", maxJwksURILength)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		r.errorf(field, "jwksUri %q is not a valid URL: %v", raw, err)
	case u.Scheme != "http" && u.Scheme != "https":
		r.errorf(field, "jwksUri %q: URI scheme %q is not supported, url must have scheme http:// or https://", raw, u.Scheme)
	case u.Hostname() == "":
		r.errorf(field, "jwksUri %q has no host", raw)
	}
}

func validateTokenLocations(field string, rule *security.JWTRule, r *report) {
	for i, h := range rule.GetFromHeaders() {
		f := path(path(field, "fromHeaders"), i)
		switch {
		case h == nil:
			r.errorf(f, "fromHeaders entry must not be null")
		case h.GetName() == "":
			r.errorf(path(f, "name"), "location header name must be a non-empty string")
		}
	}
	for i, p := range rule.GetFromParams() {
		if p == "" {
			r.errorf(path(path(field, "fromParams"), i), "location query parameter must be a non-empty string")
		}
	}
	for i, c := range rule.GetFromCookies() {
		if c == "" {
			r.errorf(path(path(field, "fromCookies"), i), "cookie name must be a non-empty string")
		}
	}
}

// validateClaimOutputs checks the headers a verified token is copied into. Envoy refuses header
// names outside the token syntax, which would reject the whole listener.
func validateClaimOutputs(field string, rule *security.JWTRule, r *report) {
	seen := map[string]int{}
	for i, out := range rule.GetOutputClaimToHeaders() {
		f := path(path(field, "outputClaimToHeaders"), i)
		if out == nil {
			r.errorf(f, "outputClaimToHeaders entry must not be null")
			continue
		}
		if out.GetClaim() == "" {
			r.errorf(path(f, "claim"), "outputClaimToHeaders claim must be a non-empty string")
		}
		validateHeaderName(path(f, "header"), out.GetHeader(), r)
		// The API asks for one claim per header. Istio does not enforce it, so this only warns.
		if first, dup := seen[out.GetHeader()]; dup && out.GetHeader() != "" {
			r.warnf(path(f, "header"), "header %q is already written by outputClaimToHeaders[%d]: each header must be unique", out.GetHeader(), first)
		} else {
			seen[out.GetHeader()] = i
		}
	}
	if h := rule.GetOutputPayloadToHeader(); h != "" && !headerNameRe.MatchString(h) {
		r.warnf(path(field, "outputPayloadToHeader"), "header name %q is not a valid header name", h)
	}
}
