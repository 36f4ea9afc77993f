package authz

import (
	"net/http"
	"strings"
	"testing"
)

// Envoy's jwt_authn runs before RBAC: a bad token is a 401 whatever the policies say; a missing
// token passes with no identity.
func TestJWTFailureBeforePolicies(t *testing.T) {
	t.Parallel()
	iss := jwtIssuer(t)
	e := newEngine(t, Options{}, iss.requestAuthn("foo", "https://issuer.test"), `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-all, namespace: foo}
spec:
  rules:
  - {}
`)
	good := iss.token(t, map[string]any{"iss": "https://issuer.test", "sub": "alice"})
	bad := good[:len(good)-4] + "AAAA"
	d := e.Check(t.Context(), req(httpbinFoo, bearer(bad)))
	if d.Allowed || d.Status != http.StatusUnauthorized || d.Reason == "" {
		t.Fatalf("bad signature: %+v", d)
	}
	if len(d.ResponseHeaders) != 1 || d.ResponseHeaders[0].Name != "www-authenticate" || !strings.HasPrefix(d.ResponseHeaders[0].Value, "Bearer") {
		t.Fatalf("www-authenticate: %+v", d.ResponseHeaders)
	}
	if d := e.Check(t.Context(), req(httpbinFoo)); !d.Allowed || d.Identity != nil {
		t.Fatalf("no token: %+v", d)
	}
	d = e.Check(t.Context(), req(httpbinFoo, bearer(good)))
	if !d.Allowed || d.Identity == nil || d.Identity.Principal() != "https://issuer.test/alice" {
		t.Fatalf("good token: %+v", d)
	}
	if len(d.RemoveHeaders) == 0 {
		t.Fatalf("the token header is not removed upstream: %+v", d)
	}
	// TCP connections carry no token.
	if d := e.Check(t.Context(), req(httpbinFoo, tcp)); !d.Allowed {
		t.Fatalf("TCP: %+v", d)
	}
}

func TestJWTAttributes(t *testing.T) {
	t.Parallel()
	iss := jwtIssuer(t)
	e := newEngine(t, Options{}, iss.requestAuthn("foo", "https://issuer.test", "https://other.test/tenant"), `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: jwt, namespace: foo}
spec:
  rules:
  - from:
    - source: {requestPrincipals: ["https://issuer.test/alice"]}
    to:
    - operation: {paths: ["/exact"]}
  - from:
    - source: {requestPrincipals: ["*@example.com"]}
    to:
    - operation: {paths: ["/sub-suffix"]}
  - from:
    - source: {requestPrincipals: ["https://other.test/tenant/*"]}
    to:
    - operation: {paths: ["/any-sub"]}
  - from:
    - source: {requestPrincipals: ["*"]}
    to:
    - operation: {paths: ["/any"]}
  - to:
    - operation: {paths: ["/aud"]}
    when:
    - key: request.auth.audiences
      values: ["api-b"]
  - to:
    - operation: {paths: ["/azp"]}
    when:
    - key: request.auth.presenter
      values: ["cli*"]
  - to:
    - operation: {paths: ["/nested"]}
    when:
    - key: request.auth.claims[org][team]
      values: ["blue"]
  - to:
    - operation: {paths: ["/scope"]}
    when:
    - key: request.auth.claims[scope]
      values: ["write"]
  - to:
    - operation: {paths: ["/principal"]}
    when:
    - key: request.auth.principal
      values: ["https://issuer.test/alice"]
`)
	alice := bearer(iss.token(t, map[string]any{
		"iss": "https://issuer.test", "sub": "alice", "aud": []string{"api-a", "api-b"}, "azp": "cli-1",
		"org": map[string]any{"team": "blue"}, "scope": "read write",
	}))
	bob := bearer(iss.token(t, map[string]any{"iss": "https://issuer.test", "sub": "bob@example.com", "aud": "api-a"}))
	tenant := bearer(iss.token(t, map[string]any{"iss": "https://other.test/tenant", "sub": "carol"}))
	runChecks(t, e, []check{
		{"exact principal", req(httpbinFoo, path("/exact"), alice), ok, "ns[foo]-policy[jwt]-rule[0]"},
		{"exact principal, other sub", req(httpbinFoo, path("/exact"), bob), forbidden, ""},
		{"sub suffix", req(httpbinFoo, path("/sub-suffix"), bob), ok, ""},
		{"sub suffix, no match", req(httpbinFoo, path("/sub-suffix"), alice), forbidden, ""},
		{"issuer URL with path, any sub", req(httpbinFoo, path("/any-sub"), tenant), ok, ""},
		{"any principal", req(httpbinFoo, path("/any"), bob), ok, ""},
		{"any principal, no token", req(httpbinFoo, path("/any")), forbidden, ""},
		{"audience in list", req(httpbinFoo, path("/aud"), alice), ok, ""},
		{"audience string", req(httpbinFoo, path("/aud"), bob), forbidden, ""},
		{"presenter prefix", req(httpbinFoo, path("/azp"), alice), ok, ""},
		{"presenter absent", req(httpbinFoo, path("/azp"), bob), forbidden, ""},
		{"nested claim", req(httpbinFoo, path("/nested"), alice), ok, ""},
		{"nested claim absent", req(httpbinFoo, path("/nested"), bob), forbidden, ""},
		{"space-delimited scope", req(httpbinFoo, path("/scope"), alice), ok, ""},
		{"request.auth.principal", req(httpbinFoo, path("/principal"), alice), ok, ""},
		{"request.auth.principal other", req(httpbinFoo, path("/principal"), tenant), forbidden, ""},
	})
}

func TestRequestPrincipalMatch(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		value, iss, sub string
		want            bool
	}{
		{"*", "a", "b", true},
		{"*", "a", "", false},
		{"iss/sub", "iss", "sub", true},
		{"iss/sub", "iss", "sub2", false},
		{"https://x/y/sub", "https://x/y", "sub", true},
		{"*/sub", "any", "sub", true},
		{"*.test/sub", "https://a.test", "sub", true},
		{"*.test/sub", "https://a.org", "sub", false},
		{"*@example.com", "i", "u@example.com", true},
		{"iss/*", "iss", "anything", true},
		{"iss/pre*", "iss", "prefix", true},
		{"iss/pre*", "iss", "other", false},
		// Split at the last '/', as Istio does: the issuer is "https:/" and "iss*" a subject prefix.
		{"https://iss*", "https://issuer", "u", false},
		{"https://iss*", "https:/", "issue", true},
		{"noslash", "noslash", "", false},
	} {
		m := newRequestPrincipalMatch(c.value)
		if got := m.match(c.iss, true, c.sub, c.sub != ""); got != c.want {
			t.Errorf("%q against iss %q sub %q: %v, want %v", c.value, c.iss, c.sub, got, c.want)
		}
	}
}
