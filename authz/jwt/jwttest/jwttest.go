// Package jwttest signs JWTs for tests, the way net/http/httptest serves HTTP for them: one
// generated key, its public half published as an inline JWKS a RequestAuthentication can carry,
// and tokens signed with it through jwx, so every test package proves the same thing the same way.
package jwttest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"maps"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Signer signs JWTs with one generated key and publishes its public key as a JWKS.
type Signer struct {
	Alg   jwa.SignatureAlgorithm
	KeyID string
	// JWKS is the JSON key set holding only the public key, with kid and alg set, as a
	// RequestAuthentication jwtRule's jwks field or a jwksUri response carries it.
	JWKS string
	key  crypto.Signer
}

// New generates a key for alg: RS256 gets RSA 2048, ES256 gets P-256; any other alg fails t,
// because a test asking for one would otherwise silently test a different algorithm.
func New(t testing.TB, alg jwa.SignatureAlgorithm, kid string) *Signer {
	t.Helper()
	var key crypto.Signer
	var err error
	switch alg {
	case jwa.RS256:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case jwa.ES256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		t.Fatalf("jwttest: unsupported alg %q (want RS256 or ES256)", alg)
		return nil
	}
	if err != nil {
		t.Fatalf("jwttest: generate %s key: %v", alg, err)
	}
	pub, err := jwk.FromRaw(key.Public())
	if err != nil {
		t.Fatalf("jwttest: public JWK: %v", err)
	}
	_ = pub.Set(jwk.KeyIDKey, kid)
	_ = pub.Set(jwk.AlgorithmKey, alg)
	set := jwk.NewSet()
	_ = set.AddKey(pub)
	doc, err := json.Marshal(set)
	if err != nil {
		t.Fatalf("jwttest: marshal JWKS: %v", err)
	}
	return &Signer{Alg: alg, KeyID: kid, JWKS: string(doc), key: key}
}

// Sign signs claims with the key, kid in the protected header. "exp" defaults to an hour from
// now when absent, so a token is valid unless the test says otherwise; claims is not modified,
// so a table shared by parallel subtests can be passed as is.
func (s *Signer) Sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	c := maps.Clone(claims)
	if c == nil {
		c = map[string]any{}
	}
	if _, ok := c["exp"]; !ok {
		c["exp"] = time.Now().Add(time.Hour).Unix()
	}
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("jwttest: marshal claims: %v", err)
	}
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.KeyIDKey, s.KeyID)
	out, err := jws.Sign(payload, jws.WithKey(s.Alg, s.key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatalf("jwttest: sign: %v", err)
	}
	return string(out)
}
