package authz

import "strings"

// requestPrincipalMatch is a requestPrincipals/request.auth.principal value, matched the way Istio
// 1.22+ generates it: the value is split at its last '/' (issuers are often URLs) and the issuer
// and subject claims of the verified JWT are matched separately.
//
//	"*"            issuer and subject both non-empty
//	"*x/sub"       issuer ends with x, subject is sub ("*/sub": any issuer)
//	"*x"           (no '/') any issuer, subject ends with x
//	"iss/x*"       issuer is iss, subject starts with x ("iss/*": any subject)
//	"x*"           (no '/') issuer starts with x, any subject
//	"iss/sub"      both exact; without '/', the issuer is the value and the subject must be empty
type requestPrincipalMatch struct {
	iss, sub stringMatch
}

func newRequestPrincipalMatch(v string) requestPrincipalMatch {
	anyValue := stringMatch{kind: matchNonEmpty}
	idx := strings.LastIndexByte(v, '/')
	found := idx >= 0
	iss, sub := v, ""
	if found {
		iss, sub = v[:idx], v[idx+1:]
	}
	switch {
	case v == "*":
		return requestPrincipalMatch{iss: anyValue, sub: anyValue}
	case strings.HasPrefix(v, "*"):
		if !found {
			return requestPrincipalMatch{iss: anyValue, sub: stringMatch{kind: matchSuffix, s: v[1:]}}
		}
		m := requestPrincipalMatch{sub: stringMatch{kind: matchExact, s: sub}}
		if iss == "*" {
			m.iss = anyValue
		} else {
			m.iss = stringMatch{kind: matchSuffix, s: iss[1:]}
		}
		return m
	case strings.HasSuffix(v, "*"):
		if !found {
			return requestPrincipalMatch{iss: stringMatch{kind: matchPrefix, s: v[:len(v)-1]}, sub: anyValue}
		}
		m := requestPrincipalMatch{iss: stringMatch{kind: matchExact, s: iss}}
		if sub == "*" {
			m.sub = anyValue
		} else {
			m.sub = stringMatch{kind: matchPrefix, s: sub[:len(sub)-1]}
		}
		return m
	}
	return requestPrincipalMatch{iss: stringMatch{kind: matchExact, s: iss}, sub: stringMatch{kind: matchExact, s: sub}}
}

// match reads the verified token's iss and sub. Envoy's metadata matcher finds no value when the
// claim is absent, so an absent claim matches nothing, not even an exact "".
func (m requestPrincipalMatch) match(iss string, issOK bool, sub string, subOK bool) bool {
	return m.iss.match(iss, issOK) && m.sub.match(sub, subOK)
}
