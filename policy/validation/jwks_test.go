package validation

import (
	"encoding/json"
	"testing"

	security "istio.io/api/security/v1beta1"
)

func TestInlineJWKS(t *testing.T) {
	t.Parallel()
	// withJWKS builds a rule whose jwks field holds the given document verbatim.
	withJWKS := func(doc string) *security.RequestAuthentication {
		quoted, err := json.Marshal(doc)
		if err != nil {
			panic(err)
		}
		return reqAuthnJSON(`{"jwtRules":[{"issuer":"https://issuer.example.com","jwks":` + string(quoted) + `}]}`)
	}
	const f = "spec.jwtRules[0].jwks"
	const rsa = `{"kty":"RSA","kid":"1","alg":"RS256","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB"}`
	const ec = `{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`
	runCases(t, []validationCase{
		{name: "RSA and EC set", spec: withJWKS(`{"keys":[` + rsa + `,` + ec + `]}`)},
		{name: "single key without a set", spec: withJWKS(ec)},
		{name: "symmetric and OKP keys, padded base64", spec: withJWKS(`{"keys":[{"kty":"oct","k":"c2VjcmV0=="},{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`)},
		{
			name: "not JSON",
			spec: withJWKS(`-----BEGIN PUBLIC KEY-----`),
			want: []wantFinding{wantErr(f, "jwks parse error: not a JSON object")},
		},
		{
			name: "JSON array instead of an object",
			spec: withJWKS(`[` + rsa + `]`),
			want: []wantFinding{wantErr(f, "not a JSON object")},
		},
		{
			name: "keys is not an array",
			spec: withJWKS(`{"keys":` + rsa + `}`),
			want: []wantFinding{wantErr(f, `"keys" must be an array`)},
		},
		{
			name: "key without kty",
			spec: withJWKS(`{"keys":[{"n":"AQAB","e":"AQAB"}]}`),
			want: []wantFinding{wantErr(f, `keys[0]: missing "kty"`)},
		},
		{
			name: "unsupported key type",
			spec: withJWKS(`{"keys":[{"kty":"DSA","y":"AQAB"}]}`),
			want: []wantFinding{wantErr(f, `unsupported key type "DSA"`)},
		},
		{
			name: "RSA key without exponent",
			spec: withJWKS(`{"keys":[` + rsa + `,{"kty":"RSA","n":"AQAB"}]}`),
			want: []wantFinding{wantErr(f, `keys[1]: RSA key is missing member "e"`)},
		},
		{
			name: "EC key with an unknown curve",
			spec: withJWKS(`{"kty":"EC","crv":"P-192","x":"AQAB","y":"AQAB"}`),
			want: []wantFinding{wantErr(f, `unsupported curve "P-192"`)},
		},
		{
			name: "key member that is not base64url",
			spec: withJWKS(`{"kty":"oct","k":"not base64!"}`),
			want: []wantFinding{wantErr(f, `member "k" is not base64url`)},
		},
		{
			name: "key member that is not a string",
			spec: withJWKS(`{"kty":"RSA","n":"AQAB","e":65537}`),
			want: []wantFinding{wantErr(f, `missing member "e"`)},
		},
		{
			name: "empty key set verifies nothing",
			spec: withJWKS(`{"keys":[]}`),
			want: []wantFinding{wantWarn(f, "jwks has no keys")},
		},
	})
}
