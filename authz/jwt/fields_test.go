package jwt

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	security "istio.io/api/security/v1beta1"
)

// TestRuleFields covers every jwtRules field that shapes the result of a valid token.
func TestRuleFields(t *testing.T) {
	t.Parallel()
	s := signers(t)
	k, _ := newTestKeys(t, newClock())
	jwks := jwksDoc(t, publicJWK(t, s["rsa"], false))
	payload := claims(map[string]any{
		"scope": "read write", "roles": "admin ops", "groups": []any{"g1", "g2"},
		"nested": map[string]any{"key": map[string]any{"group": "blue"}, "n": 7.0},
		"flag":   true, "ratio": 1.5, "count": 42, "azp": "web",
	})
	tok := sign(t, s["rsa"], jwa.RS256, payload)
	payloadB64 := strings.Split(tok, ".")[1]

	cases := []struct {
		name       string
		rule       *security.JWTRule
		in         Input
		wantSet    []Header
		wantRemove []string
	}{
		{
			name:       "defaults: Authorization Bearer, token removed",
			rule:       &security.JWTRule{Issuer: "https://issuer.test", Jwks: jwks},
			in:         Input{Header: http.Header{"Authorization": {"bearer " + tok}}},
			wantRemove: []string{"Authorization"},
		},
		{
			name:    "default access_token param, forwardOriginalToken",
			rule:    &security.JWTRule{Issuer: "https://issuer.test", Jwks: jwks, ForwardOriginalToken: true},
			in:      Input{Header: http.Header{}, RawQuery: "x=1&access_token=" + tok},
			wantSet: nil,
		},
		{
			name: "fromHeaders with prefix, outputPayloadToHeader, outputClaimToHeaders",
			rule: &security.JWTRule{
				Issuer: "https://issuer.test", Jwks: jwks,
				FromHeaders:           []*security.JWTHeader{{Name: "x-jwt-assertion", Prefix: "Istio "}},
				OutputPayloadToHeader: "x-jwt-payload",
				OutputClaimToHeaders: []*security.ClaimToHeader{
					{Header: "x-group", Claim: "nested.key.group"},
					{Header: "x-flag", Claim: "flag"},
					{Header: "x-count", Claim: "count"},
					{Header: "x-ratio", Claim: "ratio"},
					{Header: "x-groups", Claim: "groups"},
					{Header: "x-missing", Claim: "nope"},
				},
			},
			in: Input{Header: http.Header{"X-Jwt-Assertion": {"Istio " + tok}, "X-Group": {"spoofed"}}},
			wantSet: []Header{
				{"x-jwt-payload", payloadB64},
				{"x-group", "blue"}, {"x-flag", "true"}, {"x-count", "42"}, {"x-ratio", "1.500000"},
				{"x-groups", base64.StdEncoding.EncodeToString([]byte(`["g1","g2"]`))},
			},
			wantRemove: []string{"X-Jwt-Payload", "X-Group", "X-Flag", "X-Count", "X-Ratio", "X-Groups", "X-Missing", "X-Jwt-Assertion"},
		},
		{
			name: "fromParams",
			rule: &security.JWTRule{Issuer: "https://issuer.test", Jwks: jwks, FromParams: []string{"my_token"}},
			in:   Input{Header: http.Header{}, RawQuery: "my_token=" + tok},
		},
		{
			name: "fromCookies",
			rule: &security.JWTRule{Issuer: "https://issuer.test", Jwks: jwks, FromCookies: []string{"auth-token"}},
			in:   Input{Header: http.Header{"Cookie": {"a=b; auth-token=" + tok}}},
		},
		{
			name: "audiences",
			rule: &security.JWTRule{Issuer: "https://issuer.test", Jwks: jwks, Audiences: []string{"other", "http://api"}},
			in:   Input{Header: http.Header{"Authorization": {"Bearer " + tok}}}, wantRemove: []string{"Authorization"},
		},
		{
			name: "inline jwks wins over jwksUri",
			rule: &security.JWTRule{Issuer: "https://issuer.test", Jwks: jwks, JwksUri: "http://127.0.0.1:1/never"},
			in:   Input{Header: http.Header{"Authorization": {"Bearer " + tok}}}, wantRemove: []string{"Authorization"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := mustAuthenticator(t, k, reqAuthn(tc.rule))
			res := a.Authenticate(ctx(t), tc.in)
			if res.Failure != nil {
				t.Fatalf("failure: %+v", res.Failure)
			}
			if res.Identity == nil || res.Identity.Principal() != "https://issuer.test/alice" {
				t.Fatalf("identity: %+v", res.Identity)
			}
			if !slices.Equal(res.SetHeaders, tc.wantSet) {
				t.Errorf("SetHeaders = %q, want %q", res.SetHeaders, tc.wantSet)
			}
			if !slices.Equal(res.RemoveHeaders, tc.wantRemove) {
				t.Errorf("RemoveHeaders = %q, want %q", res.RemoveHeaders, tc.wantRemove)
			}
		})
	}
}

// TestClaims: request.auth.claims lookups, spaceDelimitedClaims, audiences and presenter.
func TestClaims(t *testing.T) {
	t.Parallel()
	s := signers(t)
	k, _ := newTestKeys(t, newClock())
	a := mustAuthenticator(t, k, reqAuthn(&security.JWTRule{
		Issuer: "https://issuer.test", Jwks: jwksDoc(t, publicJWK(t, s["rsa"], false)),
		SpaceDelimitedClaims: []string{"roles", "provider.login.scope"},
	}))
	tok := sign(t, s["rsa"], jwa.RS256, claims(map[string]any{
		"aud": []string{"a1", "a2"}, "azp": "web",
		"scope": "read write", "permission": "p1 p2", "roles": "admin ops", "plain": "x y",
		"groups": []any{"g1", 2, "g2"}, "flag": true,
		"provider": map[string]any{"login": map[string]any{"scope": "s1 s2"}},
	}))
	res := a.Authenticate(ctx(t), bearer(tok))
	id := res.Identity
	if id == nil {
		t.Fatalf("failure: %+v", res.Failure)
	}
	if !slices.Equal(id.Audiences, []string{"a1", "a2"}) || id.Presenter != "web" {
		t.Fatalf("audiences %q presenter %q", id.Audiences, id.Presenter)
	}
	cases := []struct {
		path   string
		want   []string
		wantOK bool
	}{
		{"scope", []string{"read", "write"}, true},
		{"permission", []string{"p1", "p2"}, true},
		{"roles", []string{"admin", "ops"}, true},
		{"plain", []string{"x y"}, true},
		{"groups", []string{"g1", "g2"}, true},
		{"provider.login.scope", []string{"s1", "s2"}, true},
		{"flag", nil, true},
		{"absent", nil, false},
		{"plain.deeper", nil, false},
	}
	for _, tc := range cases {
		got, ok := id.Claim(strings.Split(tc.path, "."))
		if ok != tc.wantOK || !slices.Equal(got, tc.want) {
			t.Errorf("Claim(%s) = %q %v, want %q %v", tc.path, got, ok, tc.want, tc.wantOK)
		}
	}
}
