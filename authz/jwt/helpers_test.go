package jwt

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/prometheus/client_golang/prometheus"
	security "istio.io/api/security/v1beta1"
)

// testNow is the fixed time every test token is relative to.
var testNow = time.Unix(1_800_000_000, 0)

type clock struct{ ns atomic.Int64 }

func newClock() *clock               { c := &clock{}; c.ns.Store(testNow.UnixNano()); return c }
func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

type signer struct {
	kid string
	alg jwa.SignatureAlgorithm
	key crypto.Signer
}

var (
	keysOnce sync.Once
	testKeys map[string]*signer // by name: rsa, rsa2, ps, es256, es384, es512, ed
)

func signers(t testing.TB) map[string]*signer {
	t.Helper()
	keysOnce.Do(func() {
		rsa1, _ := rsa.GenerateKey(rand.Reader, 2048)
		rsa2, _ := rsa.GenerateKey(rand.Reader, 2048)
		p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
		_, ed, _ := ed25519.GenerateKey(rand.Reader)
		testKeys = map[string]*signer{
			"rsa":   {"rsa-1", jwa.RS256, rsa1},
			"rsa2":  {"rsa-2", jwa.RS256, rsa2},
			"es256": {"ec-256", jwa.ES256, p256},
			"es384": {"ec-384", jwa.ES384, p384},
			"es512": {"ec-521", jwa.ES512, p521},
			"ed":    {"ed-1", jwa.EdDSA, ed},
		}
	})
	return testKeys
}

// publicJWK is the JWKS entry for s; withAlg adds "alg".
func publicJWK(t testing.TB, s *signer, withAlg bool) jwk.Key {
	t.Helper()
	k, err := jwk.FromRaw(s.key.Public())
	if err != nil {
		t.Fatal(err)
	}
	_ = k.Set(jwk.KeyIDKey, s.kid)
	if withAlg {
		_ = k.Set(jwk.AlgorithmKey, s.alg)
	}
	return k
}

func jwksDoc(t testing.TB, keys ...jwk.Key) string {
	t.Helper()
	set := jwk.NewSet()
	for _, k := range keys {
		_ = set.AddKey(k)
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sign makes a token with jwx; alg overrides the signer's algorithm (PS* with an RSA key).
func sign(t testing.TB, s *signer, alg jwa.SignatureAlgorithm, claims map[string]any) string {
	t.Helper()
	payload, _ := json.Marshal(claims)
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.KeyIDKey, s.kid)
	out, err := jws.Sign(payload, jws.WithKey(alg, s.key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// rawToken assembles a token from literal parts, for tokens jwx refuses to make.
func rawToken(header, payload map[string]any, sig []byte) string {
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(payload)
	enc := base64.RawURLEncoding.EncodeToString
	return enc(h) + "." + enc(p) + "." + enc(sig)
}

func claims(extra map[string]any) map[string]any {
	c := map[string]any{
		"iss": "https://issuer.test", "sub": "alice", "aud": "api",
		"iat": testNow.Unix() - 10, "exp": testNow.Add(time.Hour).Unix(),
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func newTestKeys(t testing.TB, c *clock) (*Keys, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	k := NewKeys(KeysOptions{Registerer: reg, Now: c.now})
	t.Cleanup(k.Close)
	return k, reg
}

func reqAuthn(rules ...*security.JWTRule) *policy.Resource {
	return &policy.Resource{
		Kind: policy.KindRequestAuthentication, Namespace: "ns", Name: "ra",
		Spec: &security.RequestAuthentication{JwtRules: rules},
	}
}

func mustAuthenticator(t testing.TB, k *Keys, res ...*policy.Resource) *Authenticator {
	t.Helper()
	a, err := NewAuthenticator(k, res)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func bearer(tok string) Input {
	return Input{Header: http.Header{"Authorization": {"Bearer " + tok}}, Scheme: "https", Host: "api.test", Path: "/p?q=1"}
}

// jwksServer serves a switchable JWKS document, can go down, and counts requests.
type jwksServer struct {
	*httptest.Server
	doc  atomic.Value // string
	down atomic.Bool
	hits atomic.Int64
}

func newJWKSServer(t testing.TB, doc string) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.doc.Store(doc)
	mux := http.NewServeMux()
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if s.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(s.doc.Load().(string)))
	})
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"issuer": s.URL, "jwks_uri": s.URL + "/jwks",
			"authorization_endpoint": s.URL + "/auth", "token_endpoint": s.URL + "/token",
		})
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}
