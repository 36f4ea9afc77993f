package jwttest

import (
	"encoding/json"
	"runtime"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

func TestSignVerifiesAgainstJWKS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		alg    jwa.SignatureAlgorithm
		claims map[string]any
		// wantExp is the exp the token must carry; 0: about an hour from now.
		wantExp int64
	}{
		{name: "RS256 default exp", alg: jwa.RS256, claims: map[string]any{"sub": "alice"}},
		{name: "ES256 default exp", alg: jwa.ES256, claims: map[string]any{"sub": "alice"}},
		{name: "nil claims", alg: jwa.ES256},
		{name: "explicit exp kept", alg: jwa.ES256, claims: map[string]any{"exp": int64(1)}, wantExp: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := New(t, tc.alg, "kid-1")
			before := len(tc.claims)
			tok := s.Sign(t, tc.claims)
			if len(tc.claims) != before {
				t.Errorf("Sign modified the caller's claims: %v", tc.claims)
			}

			set, err := jwk.ParseString(s.JWKS)
			if err != nil {
				t.Fatalf("JWKS does not parse: %v", err)
			}
			pub, ok := set.LookupKeyID("kid-1")
			if !ok || pub.Algorithm() != tc.alg {
				t.Fatalf("JWKS %s: want one key kid-1 with alg %s", s.JWKS, tc.alg)
			}
			switch pub.(type) {
			case jwk.RSAPrivateKey, jwk.ECDSAPrivateKey:
				t.Fatalf("JWKS publishes a private key")
			}
			payload, err := jws.Verify([]byte(tok), jws.WithKeySet(set))
			if err != nil {
				t.Fatalf("token does not verify against the JWKS: %v", err)
			}
			var got struct {
				Exp int64 `json:"exp"`
			}
			if err := json.Unmarshal(payload, &got); err != nil {
				t.Fatal(err)
			}
			if tc.wantExp != 0 && got.Exp != tc.wantExp {
				t.Errorf("exp %d, want %d", got.Exp, tc.wantExp)
			}
			if tc.wantExp == 0 && got.Exp <= time.Now().Unix() {
				t.Errorf("default exp %d is not in the future", got.Exp)
			}
		})
	}
}

// fatalTB records a Fatalf and stops the goroutine, as testing.T does.
type fatalTB struct {
	testing.TB
	failed bool
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(string, ...any) {
	f.failed = true
	runtime.Goexit()
}

func TestNewRejectsOtherAlgs(t *testing.T) {
	t.Parallel()
	for _, alg := range []jwa.SignatureAlgorithm{jwa.HS256, jwa.ES384, jwa.EdDSA} {
		f := &fatalTB{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			New(f, alg, "k")
		}()
		<-done
		if !f.failed {
			t.Errorf("New(%s) did not fail", alg)
		}
	}
}
