package jwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"fmt"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// verifyKey is one public key, converted once per key set so that verification does no JWK work.
type verifyKey struct {
	kid, alg string
	raw      any // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// keySet is an immutable set of usable public keys. A new JWKS document gives a new *keySet, and
// the verified-token cache remembers which *keySet verified a token: a key removed from the
// issuer's JWKS stops verifying cached tokens at the next refresh.
type keySet struct {
	keys []verifyKey
	// skipped counts keys that cannot verify anything here (symmetric, X25519, unknown kty).
	skipped int
}

// newKeySet keeps only asymmetric public keys. Symmetric ("oct") keys are dropped: a shared secret
// published in a JWKS verifies nothing, and dropping them is what makes HS* tokens (including
// HS256 "signed" with an RSA public key) unverifiable by construction.
func newKeySet(set jwk.Set) *keySet {
	ks := &keySet{}
	ctx := context.Background()
	for it := set.Keys(ctx); it.Next(ctx); {
		key, ok := it.Pair().Value.(jwk.Key)
		if !ok {
			ks.skipped++
			continue
		}
		vk, ok := toVerifyKey(key)
		if !ok {
			ks.skipped++
			continue
		}
		ks.keys = append(ks.keys, vk)
	}
	return ks
}

func toVerifyKey(key jwk.Key) (verifyKey, bool) {
	if key.KeyType() == jwa.OctetSeq {
		return verifyKey{}, false
	}
	pub, err := jwk.PublicKeyOf(key)
	if err != nil {
		return verifyKey{}, false
	}
	var raw any
	if err := pub.Raw(&raw); err != nil {
		return verifyKey{}, false
	}
	switch r := raw.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
	case *ed25519.PublicKey:
		raw = *r
	default:
		return verifyKey{}, false
	}
	alg := ""
	if a := pub.Algorithm(); a != nil {
		alg = a.String()
	}
	return verifyKey{kid: pub.KeyID(), alg: alg, raw: raw}, true
}

// parseInlineJWKS reads a rule's jwks field: a set ({"keys": [...]}) or a single key.
func parseInlineJWKS(doc string) (*keySet, error) {
	set, err := jwk.Parse([]byte(doc))
	if err != nil {
		return &keySet{}, fmt.Errorf("jwks parse error: %w", err)
	}
	return newKeySet(set), nil
}

// verifiers come from jwx: no signature arithmetic is written here.
var verifiers = func() map[string]jws.Verifier {
	m := map[string]jws.Verifier{}
	for _, alg := range []jwa.SignatureAlgorithm{
		jwa.RS256, jwa.RS384, jwa.RS512, jwa.PS256, jwa.PS384, jwa.PS512,
		jwa.ES256, jwa.ES384, jwa.ES512, jwa.EdDSA,
	} {
		v, err := jws.NewVerifier(alg)
		if err != nil {
			panic(fmt.Sprintf("jwx has no verifier for %s: %v", alg, err))
		}
		m[alg.String()] = v
	}
	return m
}()

// fits says whether a key of this type may verify a token signed with alg: a key's type must
// match the algorithm family, and an EC key's curve must be the algorithm's curve.
func (k *verifyKey) fits(alg string) bool {
	switch r := k.raw.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		want := map[string]string{"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}[alg]
		return want != "" && r.Curve.Params().Name == want
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// verify follows jwt_verify_lib's verifyJwtWithoutTimeChecking: a key is a candidate when its kid
// (if both sides have one) and its alg (if it has one) match the token; no candidate at all is
// "Jwks doesn't have key to match kid or alg", candidates that all fail are "Jwt verification fails".
func (ks *keySet) verify(t *token) status {
	if len(ks.keys) == 0 {
		return statusJwksNoValidKeys
	}
	v := verifiers[t.alg] // nil for HS*: no key ever fits those
	matched := false
	for i := range ks.keys {
		k := &ks.keys[i]
		if t.kid != "" && k.kid != "" && k.kid != t.kid {
			continue
		}
		if k.alg != "" && k.alg != t.alg {
			continue
		}
		matched = true
		if v == nil || !k.fits(t.alg) {
			continue
		}
		if t.alg == "EdDSA" && len(t.signature) != ed25519.SignatureSize {
			return statusEd25519SignatureWrongLength
		}
		if v.Verify([]byte(t.signingInput), t.signature, k.raw) == nil {
			return statusOK
		}
	}
	if matched {
		return statusVerificationFail
	}
	return statusJwksKidAlgMismatch
}
