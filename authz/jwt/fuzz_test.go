package jwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"sync"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	security "istio.io/api/security/v1beta1"
)

var (
	fuzzOnce sync.Once
	fuzzAuth *Authenticator
)

// fuzzSigner makes only a P-256 key: each fuzz worker process pays for it once.
func fuzzSigner(t testing.TB) *signer {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &signer{kid: "fuzz", alg: jwa.ES256, key: key}
}

// FuzzToken: Authenticate never panics on arbitrary header bytes, and never allows a token it
// did not verify.
func FuzzToken(f *testing.F) {
	for _, seed := range []string{
		"", "a.b.c", "e30.e30.e30", "eyJhbGciOiJub25lIn0.e30.",
		"eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lzc3Vlci50ZXN0In0.AAAA",
		"eyJhbGciOiJFZERTQSJ9.eyJleHAiOi0xfQ.AA", "..", "a..b", "=.=.=",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		fuzzOnce.Do(func() {
			k := NewKeys(KeysOptions{Now: newClock().now})
			fuzzAuth = mustAuthenticator(t, k, reqAuthn(&security.JWTRule{
				Issuer: "https://issuer.test", Jwks: jwksDoc(t, publicJWK(t, fuzzSigner(t), false)),
				FromCookies: []string{"c"}, FromParams: []string{"p"},
				FromHeaders: []*security.JWTHeader{{Name: "Authorization", Prefix: "Bearer "}},
			}))
		})
		in := Input{
			Header:   http.Header{"Authorization": {"Bearer " + raw}, "Cookie": {"c=" + raw}},
			RawQuery: "p=" + raw,
		}
		res := fuzzAuth.Authenticate(context.Background(), in)
		if res.Failure == nil && res.Identity != nil {
			t.Fatalf("arbitrary bytes verified: %q", raw)
		}
	})
}
