package jwt

import "strings"

// Identity is the verified token's identity. Claims (and Audiences) may be shared with other
// requests carrying the same token through the verified-token cache: read them, never modify them.
type Identity struct {
	Issuer, Subject string
	Audiences       []string
	Presenter       string         // azp
	Claims          map[string]any // the token's payload (nested objects as map[string]any)

	// spaceDelimited names the claims whose string value is a space-separated list: "scope" and
	// "permission" always (Istio), plus the verifying rule's spaceDelimitedClaims.
	spaceDelimited map[string]bool
}

// Principal is "iss/sub", Istio's requestPrincipal.
func (i *Identity) Principal() string { return i.Issuer + "/" + i.Subject }

// Claim looks up a claim by path (["a","b"] for request.auth.claims[a][b]) and returns its string
// values: a string gives one value (split on spaces when the claim is space-delimited), a list
// gives its strings. Other types give no values, as Istio's string matchers never match them.
// ok is false when the claim is absent.
func (i *Identity) Claim(path []string) (values []string, ok bool) {
	if i == nil || len(path) == 0 {
		return nil, false
	}
	var v any = i.Claims
	for _, p := range path {
		m, isMap := v.(map[string]any)
		if !isMap {
			return nil, false
		}
		if v, ok = m[p]; !ok {
			return nil, false
		}
	}
	switch t := v.(type) {
	case string:
		if i.spaceDelimited[path[len(path)-1]] || (len(path) > 1 && i.spaceDelimited[strings.Join(path, ".")]) {
			return strings.Fields(t), true
		}
		return []string{t}, true
	case []any:
		for _, e := range t {
			if s, isStr := e.(string); isStr {
				values = append(values, s)
			}
		}
		return values, true
	}
	return nil, true
}
