package jwt

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	security "istio.io/api/security/v1beta1"
)

// TestAdversarial is the adversarial suite against an inline RSA key.
func TestAdversarial(t *testing.T) {
	t.Parallel()
	s := signers(t)
	rsaKey := s["rsa"]
	k, _ := newTestKeys(t, newClock())
	a := mustAuthenticator(t, k, reqAuthn(&security.JWTRule{
		Issuer: "https://issuer.test", Audiences: []string{"api"},
		Jwks: jwksDoc(t, publicJWK(t, rsaKey, false)),
	}))

	good := sign(t, rsaKey, jwa.RS256, claims(nil))
	pubDER, _ := x509.MarshalPKIXPublicKey(rsaKey.key.Public())
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hsWithPub, err := jws.Sign([]byte(`{"iss":"https://issuer.test","sub":"mallory","aud":"api"}`),
		jws.WithKey(jwa.HS256, pubPEM, jws.WithProtectedHeaders(hdrKid(rsaKey.kid))))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	badSig := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 256))
	otherKid := *s["rsa2"]
	otherKid.kid = "unknown"

	cases := []struct {
		name, token, reason string
		status              int
	}{
		{"valid", good, "", 0},
		{"alg none", rawToken(map[string]any{"alg": "none"}, claims(nil), nil) + "", "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections", 401},
		{"alg none with signature", rawToken(map[string]any{"alg": "none"}, claims(nil), []byte("x")), "Jwt header [alg] is not supported", 401},
		{"HS256 signed with the RSA public key", string(hsWithPub), "Jwt verification fails", 401},
		{"expired", sign(t, rsaKey, jwa.RS256, claims(map[string]any{"exp": testNow.Add(-2 * time.Minute).Unix()})), "Jwt is expired", 401},
		{"expired within clock skew", sign(t, rsaKey, jwa.RS256, claims(map[string]any{"exp": testNow.Add(-30 * time.Second).Unix()})), "", 0},
		{"nbf in the future", sign(t, rsaKey, jwa.RS256, claims(map[string]any{"nbf": testNow.Add(2 * time.Minute).Unix()})), "Jwt not yet valid", 401},
		{"wrong aud", sign(t, rsaKey, jwa.RS256, claims(map[string]any{"aud": []string{"other"}})), "Audiences in Jwt are not allowed", 403},
		{"aud with scheme and slash", sign(t, rsaKey, jwa.RS256, claims(map[string]any{"aud": "https://api/"})), "", 0},
		{"wrong iss", sign(t, rsaKey, jwa.RS256, claims(map[string]any{"iss": "https://evil.test"})), "Jwt issuer is not configured", 401},
		{"unknown kid", sign(t, &otherKid, jwa.RS256, claims(nil)), "Jwks doesn't have key to match kid or alg from Jwt", 401},
		{"bad signature", badSig, "Jwt verification fails", 401},
		{"truncated", good[:strings.LastIndexByte(good, '.')], "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections", 401},
		{"truncated signature", good[:len(good)-10], "Jwt verification fails", 401},
		{"64 KiB token", strings.Repeat("a", 64<<10), "Jwt verification fails", 401},
		{"garbage header", "e30.e30.e30", "Jwt header [alg] field is required and must be a string", 401},
		{"not base64", "!!.e30.e30", "Jwt header is an invalid Base64url encoded", 401},
		{"exp not a number", sign(t, rsaKey, jwa.RS256, claims(map[string]any{"exp": "soon"})), "Jwt payload [exp] field is not an integer", 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := a.Authenticate(ctx(t), bearer(tc.token))
			if tc.reason == "" {
				if res.Failure != nil {
					t.Fatalf("want allowed, got %d %q", res.Failure.Status, res.Failure.Reason)
				}
				if res.Identity == nil || res.Identity.Principal() != "https://issuer.test/alice" {
					t.Fatalf("identity = %+v", res.Identity)
				}
				return
			}
			if res.Failure == nil {
				t.Fatalf("want %q, got allowed", tc.reason)
			}
			if res.Failure.Reason != tc.reason || res.Failure.Status != tc.status {
				t.Fatalf("got %d %q, want %d %q", res.Failure.Status, res.Failure.Reason, tc.status, tc.reason)
			}
			if want := `Bearer realm="https://api.test/p", error="invalid_token"`; res.Failure.WWWAuthenticate != want {
				t.Fatalf("www-authenticate = %q, want %q", res.Failure.WWWAuthenticate, want)
			}
			if res.Identity != nil {
				t.Fatal("identity on failure")
			}
		})
	}
}

func hdrKid(kid string) jws.Headers {
	h := jws.NewHeaders()
	_ = h.Set(jws.KeyIDKey, kid)
	return h
}

// TestUnknownKidWithAlgOnKey: when the JWKS key names its alg, a token with another kid and no
// matching key is Envoy's kid/alg mismatch.
func TestUnknownKidWithAlgOnKey(t *testing.T) {
	t.Parallel()
	s := signers(t)
	k, _ := newTestKeys(t, newClock())
	a := mustAuthenticator(t, k, reqAuthn(&security.JWTRule{
		Issuer: "https://issuer.test", Jwks: jwksDoc(t, publicJWK(t, s["rsa"], true)),
	}))
	other := *s["rsa2"]
	other.kid = "unknown"
	for name, tok := range map[string]string{
		"unknown kid": sign(t, &other, jwa.RS256, claims(nil)),
		"alg differs": sign(t, s["rsa"], jwa.PS256, claims(nil)),
	} {
		res := a.Authenticate(ctx(t), bearer(tok))
		if res.Failure == nil || res.Failure.Reason != "Jwks doesn't have key to match kid or alg from Jwt" {
			t.Errorf("%s: got %+v", name, res.Failure)
		}
	}
}

// TestAlgorithms: every supported algorithm verifies with a key of its kind, and a key of the
// wrong kind or curve never verifies.
func TestAlgorithms(t *testing.T) {
	t.Parallel()
	s := signers(t)
	k, _ := newTestKeys(t, newClock())
	doc := jwksDoc(t, publicJWK(t, s["rsa"], false), publicJWK(t, s["es256"], false),
		publicJWK(t, s["es384"], false), publicJWK(t, s["es512"], false), publicJWK(t, s["ed"], false))
	a := mustAuthenticator(t, k, reqAuthn(&security.JWTRule{Issuer: "https://issuer.test", Jwks: doc}))
	cases := []struct {
		key string
		alg jwa.SignatureAlgorithm
	}{
		{"rsa", jwa.RS256}, {"rsa", jwa.RS384}, {"rsa", jwa.RS512},
		{"rsa", jwa.PS256}, {"rsa", jwa.PS384}, {"rsa", jwa.PS512},
		{"es256", jwa.ES256}, {"es384", jwa.ES384}, {"es512", jwa.ES512}, {"ed", jwa.EdDSA},
	}
	for _, tc := range cases {
		tok := sign(t, s[tc.key], tc.alg, claims(nil))
		if res := a.Authenticate(ctx(t), bearer(tok)); res.Failure != nil || res.Identity == nil {
			t.Errorf("%s with %s: %+v", tc.alg, tc.key, res.Failure)
		}
	}
	// An ES256 signature presented as ES384 under the P-256 key's kid: the curve does not fit.
	tok := sign(t, s["es256"], jwa.ES256, claims(nil))
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES384","kid":"ec-256"}`))
	forged := h + tok[strings.IndexByte(tok, '.'):]
	if res := a.Authenticate(ctx(t), bearer(forged)); res.Failure == nil || res.Failure.Reason != "Jwt verification fails" {
		t.Errorf("ES384 header on a P-256 key: %+v", res.Failure)
	}
}

func TestMissingTokenAndNil(t *testing.T) {
	t.Parallel()
	var nilA *Authenticator
	if res := nilA.Authenticate(ctx(t), Input{}); res.Failure != nil || res.Identity != nil {
		t.Fatalf("nil authenticator: %+v", res)
	}
	k, _ := newTestKeys(t, newClock())
	a := mustAuthenticator(t, k, reqAuthn(&security.JWTRule{Issuer: "https://issuer.test", Jwks: jwksDoc(t, publicJWK(t, signers(t)["rsa"], false))}))
	for name, in := range map[string]Input{
		"no headers":           {Header: http.Header{}},
		"basic auth":           {Header: http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}},
		"other query params":   {Header: http.Header{}, RawQuery: "a=b&token=x"},
		"bearer without space": {Header: http.Header{"Authorization": {"Bearer"}}},
	} {
		if res := a.Authenticate(ctx(t), in); res.Failure != nil || res.Identity != nil {
			t.Errorf("%s: %+v", name, res)
		}
	}
}

// TestTwoTokens: the same token twice is one token; two different tokens are never merged into
// one identity.
func TestTwoTokens(t *testing.T) {
	t.Parallel()
	s := signers(t)
	k, _ := newTestKeys(t, newClock())
	a := mustAuthenticator(t, k, reqAuthn(&security.JWTRule{
		Issuer: "https://issuer.test", Jwks: jwksDoc(t, publicJWK(t, s["rsa"], false)),
		FromHeaders: []*security.JWTHeader{{Name: "Authorization", Prefix: "Bearer "}, {Name: "x-jwt"}},
		FromParams:  []string{"access_token"}, FromCookies: []string{"session"},
	}))
	alice := sign(t, s["rsa"], jwa.RS256, claims(nil))
	bob := sign(t, s["rsa"], jwa.RS256, claims(map[string]any{"sub": "bob"}))
	expired := sign(t, s["rsa"], jwa.RS256, claims(map[string]any{"exp": testNow.Add(-time.Hour).Unix()}))
	cases := []struct {
		name   string
		in     Input
		reason string
	}{
		{"same token in header and cookie", Input{Header: http.Header{"Authorization": {"Bearer " + alice}, "Cookie": {"session=" + alice}}}, ""},
		{"same token in two headers", Input{Header: http.Header{"Authorization": {"Bearer " + alice}, "X-Jwt": {alice}}}, ""},
		{"two valid tokens", Input{Header: http.Header{"Authorization": {"Bearer " + alice}}, RawQuery: "access_token=" + bob}, "Found multiple Jwt tokens"},
		{"two Authorization values", Input{Header: http.Header{"Authorization": {"Bearer " + alice, "Bearer " + bob}}}, "Found multiple Jwt tokens"},
		{"valid and expired", Input{Header: http.Header{"Authorization": {"Bearer " + alice}, "X-Jwt": {expired}}}, "Jwt is expired"},
		{"garbage beside a valid token", Input{Header: http.Header{"Authorization": {"Bearer " + alice}, "X-Jwt": {"garbage"}}}, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"},
	}
	for _, tc := range cases {
		res := a.Authenticate(ctx(t), tc.in)
		switch {
		case tc.reason == "" && (res.Failure != nil || res.Identity == nil || res.Identity.Subject != "alice"):
			t.Errorf("%s: want alice, got %+v", tc.name, res)
		case tc.reason != "" && (res.Failure == nil || res.Failure.Reason != tc.reason || res.Identity != nil):
			t.Errorf("%s: want %q, got %+v", tc.name, tc.reason, res)
		}
	}
}

// TestSeveralRules: each token must verify with a rule that names its location and issuer.
func TestSeveralRules(t *testing.T) {
	t.Parallel()
	s := signers(t)
	k, _ := newTestKeys(t, newClock())
	a := mustAuthenticator(t, k,
		reqAuthn(&security.JWTRule{Issuer: "https://issuer.test", Jwks: jwksDoc(t, publicJWK(t, s["rsa"], false))}),
		reqAuthn(&security.JWTRule{Issuer: "https://other.test", Jwks: jwksDoc(t, publicJWK(t, s["es256"], false)),
			FromHeaders: []*security.JWTHeader{{Name: "x-other"}}}),
	)
	first := sign(t, s["rsa"], jwa.RS256, claims(nil))
	second := sign(t, s["es256"], jwa.ES256, claims(map[string]any{"iss": "https://other.test"}))
	cases := []struct {
		name, header, tok, reason string
	}{
		{"first rule", "Authorization", "Bearer " + first, ""},
		{"second rule", "X-Other", second, ""},
		{"second issuer in the first rule's location", "Authorization", "Bearer " + second, "Jwt issuer is not configured"},
		{"first issuer in the second rule's location", "X-Other", first, "Jwt issuer is not configured"},
	}
	for _, tc := range cases {
		res := a.Authenticate(ctx(t), Input{Header: http.Header{tc.header: {tc.tok}}})
		got := ""
		if res.Failure != nil {
			got = res.Failure.Reason
		}
		if got != tc.reason {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.reason)
		}
	}
}

// TestSymmetricKeysNeverVerify: an "oct" key in a JWKS is dropped, so HS256 fails even when the
// token is correctly signed with that secret.
func TestSymmetricKeysNeverVerify(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef0123456789abcdef")
	k, _ := newTestKeys(t, newClock())
	doc := `{"keys":[{"kty":"oct","kid":"hs","k":"` + base64.RawURLEncoding.EncodeToString(secret) + `"}]}`
	a := mustAuthenticator(t, k, reqAuthn(&security.JWTRule{Issuer: "https://issuer.test", Jwks: doc}))
	tok, err := jws.Sign([]byte(`{"iss":"https://issuer.test","sub":"mallory"}`),
		jws.WithKey(jwa.HS256, secret, jws.WithProtectedHeaders(hdrKid("hs"))))
	if err != nil {
		t.Fatal(err)
	}
	res := a.Authenticate(ctx(t), bearer(string(tok)))
	if res.Failure == nil || res.Failure.Reason != "Jwks doesn't have any valid public key" {
		t.Fatalf("got %+v", res.Failure)
	}
}
