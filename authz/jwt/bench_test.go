package jwt

import (
	"context"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	security "istio.io/api/security/v1beta1"
)

func (c *verifiedCache) clear() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.mu.Unlock()
	}
}

// BenchmarkVerify compares a token seen for the first time (parse and signature) with a repeated
// one (verified-token cache): go test -bench Verify -benchmem ./authz/jwt/
func BenchmarkVerify(b *testing.B) {
	s := signers(b)
	for _, alg := range []struct {
		name string
		key  *signer
	}{{"RS256", s["rsa"]}, {"ES256", s["es256"]}} {
		k, _ := newTestKeys(b, newClock())
		a := mustAuthenticator(b, k, reqAuthn(&security.JWTRule{
			Issuer: "https://issuer.test", Audiences: []string{"api"},
			Jwks: jwksDoc(b, publicJWK(b, alg.key, false)),
		}))
		in := bearer(sign(b, alg.key, jwa.SignatureAlgorithm(alg.key.alg), claims(nil)))
		ctx := context.Background()
		b.Run(alg.name+"/first-seen", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				k.verified.clear()
				if res := a.Authenticate(ctx, in); res.Failure != nil {
					b.Fatal(res.Failure.Reason)
				}
			}
		})
		b.Run(alg.name+"/cached", func(b *testing.B) {
			b.ReportAllocs()
			a.Authenticate(ctx, in)
			for b.Loop() {
				if res := a.Authenticate(ctx, in); res.Failure != nil {
					b.Fatal(res.Failure.Reason)
				}
			}
		})
	}
}
