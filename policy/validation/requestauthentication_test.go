package validation

import (
	"strings"
	"testing"

	security "istio.io/api/security/v1beta1"
)

func TestRequestAuthentication(t *testing.T) {
	t.Parallel()
	// rule wraps the fields of one JWT rule that already has an issuer.
	rule := func(fields string) *security.RequestAuthentication {
		return reqAuthnJSON(`{"jwtRules":[{"issuer":"https://issuer.example.com",` + fields + `}]}`)
	}
	const jr = "spec.jwtRules[0]"
	manyRules := make([]*security.JWTRule, maxJWTRules+1)
	for i := range manyRules {
		manyRules[i] = &security.JWTRule{Issuer: "https://issuer.example.com"}
	}
	manyClaims := `["` + strings.TrimSuffix(strings.Repeat(`c","`, maxSpaceDelimitedClaims+1), `","`) + `"]`
	runCases(t, []validationCase{
		{name: "issuer and jwksUri", spec: rule(`"jwksUri":"https://issuer.example.com/.well-known/jwks.json","audiences":["api"],"timeout":"10s"`)},
		{name: "jwksUri without issuer", spec: reqAuthnJSON(`{"jwtRules":[{"jwksUri":"http://keys.example.com:8080/jwks"}]}`)},
		{name: "issuer only, keys from discovery", spec: reqAuthnJSON(`{"jwtRules":[{"issuer":"https://accounts.google.com"}]}`)},
		{
			name: "token locations and claim outputs",
			spec: rule(`"fromHeaders":[{"name":"x-jwt","prefix":"Bearer "}],"fromParams":["token"],"fromCookies":["session"],
				"outputClaimToHeaders":[{"header":"x-user","claim":"sub"},{"header":"x-group","claim":"nested.group"}],
				"outputPayloadToHeader":"x-jwt-payload","spaceDelimitedClaims":["roles"]`),
		},
		{
			name: "neither issuer nor jwksUri",
			spec: reqAuthnJSON(`{"jwtRules":[{"audiences":["api"]}]}`),
			want: []wantFinding{wantErr(jr, "issuer or jwksUri must be set")},
		},
		{
			name: "inline jwks without issuer",
			spec: reqAuthnJSON(`{"jwtRules":[{"jwks":"{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}"}]}`),
			want: []wantFinding{wantErr(jr, "issuer or jwksUri must be set")},
		},
		{
			name: "jwks and jwksUri together",
			spec: rule(`"jwksUri":"https://issuer.example.com/jwks","jwks":"{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}"`),
			want: []wantFinding{wantErr(jr, "only one of jwks or jwksUri can be set")},
		},
		{
			name: "jwksUri scheme",
			spec: rule(`"jwksUri":"ftp://issuer.example.com/jwks"`),
			want: []wantFinding{wantErr(jr+".jwksUri", `URI scheme "ftp" is not supported`)},
		},
		{
			name: "jwksUri without a scheme",
			spec: rule(`"jwksUri":"issuer.example.com/jwks"`),
			want: []wantFinding{wantErr(jr+".jwksUri", "url must have scheme http:// or https://")},
		},
		{
			name: "jwksUri that does not parse",
			spec: rule(`"jwksUri":"https://[::1/jwks"`),
			want: []wantFinding{wantErr(jr+".jwksUri", "is not a valid URL")},
		},
		{
			name: "jwksUri without a host",
			spec: rule(`"jwksUri":"https:///jwks"`),
			want: []wantFinding{wantErr(jr+".jwksUri", "has no host")},
		},
		{
			name: "jwksUri length",
			spec: rule(`"jwksUri":"https://issuer.example.com/` + strings.Repeat("k", maxJwksURILength) + `"`),
			want: []wantFinding{wantErr(jr+".jwksUri", "longer than 2048")},
		},
		{
			name: "empty audience",
			spec: rule(`"audiences":["api",""]`),
			want: []wantFinding{wantErr(jr+".audiences[1]", "audience must be a non-empty string")},
		},
		{
			name: "fromHeaders name required",
			spec: rule(`"fromHeaders":[{"prefix":"Bearer "}]`),
			want: []wantFinding{wantErr(jr+".fromHeaders[0].name", "header name must be a non-empty string")},
		},
		{
			name: "null fromHeaders entry",
			spec: &security.RequestAuthentication{JwtRules: []*security.JWTRule{{Issuer: "i", FromHeaders: []*security.JWTHeader{nil}}}},
			want: []wantFinding{wantErr(jr+".fromHeaders[0]", "must not be null")},
		},
		{
			name: "empty fromParams entry",
			spec: rule(`"fromParams":[""]`),
			want: []wantFinding{wantErr(jr+".fromParams[0]", "query parameter must be a non-empty string")},
		},
		{
			name: "empty fromCookies entry",
			spec: rule(`"fromCookies":[""]`),
			want: []wantFinding{wantErr(jr+".fromCookies[0]", "cookie name must be a non-empty string")},
		},
		{
			name: "outputClaimToHeaders header name syntax",
			spec: rule(`"outputClaimToHeaders":[{"header":"x user","claim":"sub"}]`),
			want: []wantFinding{wantErr(jr+".outputClaimToHeaders[0].header", "not a valid header name")},
		},
		{
			name: "outputClaimToHeaders header required",
			spec: rule(`"outputClaimToHeaders":[{"claim":"sub"}]`),
			want: []wantFinding{wantErr(jr+".outputClaimToHeaders[0].header", "header name cannot be empty")},
		},
		{
			name: "outputClaimToHeaders claim required",
			spec: rule(`"outputClaimToHeaders":[{"header":"x-user"}]`),
			want: []wantFinding{wantErr(jr+".outputClaimToHeaders[0].claim", "claim must be a non-empty string")},
		},
		{
			name: "outputClaimToHeaders headers must be unique",
			spec: rule(`"outputClaimToHeaders":[{"header":"x-user","claim":"sub"},{"header":"x-user","claim":"email"}]`),
			want: []wantFinding{wantWarn(jr+".outputClaimToHeaders[1].header", "already written by outputClaimToHeaders[0]")},
		},
		{
			name: "null outputClaimToHeaders entry",
			spec: &security.RequestAuthentication{JwtRules: []*security.JWTRule{{Issuer: "i", OutputClaimToHeaders: []*security.ClaimToHeader{nil}}}},
			want: []wantFinding{wantErr(jr+".outputClaimToHeaders[0]", "must not be null")},
		},
		{
			name: "outputPayloadToHeader syntax",
			spec: rule(`"outputPayloadToHeader":"x:payload"`),
			want: []wantFinding{wantWarn(jr+".outputPayloadToHeader", "not a valid header name")},
		},
		{
			name: "timeout below 1ms",
			spec: rule(`"timeout":"0s"`),
			want: []wantFinding{wantErr(jr+".timeout", "must be greater than 1ms")},
		},
		{
			name: "timeout finer than ms",
			spec: rule(`"timeout":"0.0015s"`),
			want: []wantFinding{wantErr(jr+".timeout", "ms precision")},
		},
		{
			name: "empty spaceDelimitedClaims entry",
			spec: rule(`"spaceDelimitedClaims":[""]`),
			want: []wantFinding{wantErr(jr+".spaceDelimitedClaims[0]", "claim name must be a non-empty string")},
		},
		{
			name: "at most 64 spaceDelimitedClaims",
			spec: rule(`"spaceDelimitedClaims":` + manyClaims),
			want: []wantFinding{wantErr(jr+".spaceDelimitedClaims", "too many spaceDelimitedClaims")},
		},
		{
			name: "at most 4096 jwtRules",
			spec: &security.RequestAuthentication{JwtRules: manyRules},
			want: []wantFinding{wantErr("spec.jwtRules", "too many jwtRules")},
		},
		{
			name: "targetRef rules apply",
			spec: reqAuthnJSON(`{"targetRef":{"kind":"Pod","name":"web"},"jwtRules":[{"issuer":"i"}]}`),
			want: []wantFinding{wantErr("spec.targetRef", "targetRef to /Pod is not supported")},
		},
		{
			name: "dry-run is for AuthorizationPolicy only",
			meta: dryRun("false"),
			spec: reqAuthnJSON(`{"jwtRules":[{"issuer":"i"}]}`),
			want: []wantFinding{wantErr("metadata.annotations[istio.io/dry-run]", "unsupported annotation")},
		},
	})
}
