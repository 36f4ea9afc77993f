package jwt

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/types/known/durationpb"
	security "istio.io/api/security/v1beta1"
)

func fetchErrors(t *testing.T, reg *prometheus.Registry, issuer string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "gatehouse_jwks_fetch_errors_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "issuer" && l.GetValue() == issuer {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestJWKSServerDown: once fetched, keys keep verifying new tokens while the JWKS endpoint is
// down, and the failed fetches are counted.
func TestJWKSServerDown(t *testing.T) {
	t.Parallel()
	s := signers(t)
	srv := newJWKSServer(t, jwksDoc(t, publicJWK(t, s["rsa"], false)))
	c := newClock()
	k, reg := newTestKeys(t, c)
	a := mustAuthenticator(t, k, reqAuthn(&security.JWTRule{Issuer: "https://issuer.test", JwksUri: srv.URL + "/jwks"}))

	if res := a.Authenticate(ctx(t), bearer(sign(t, s["rsa"], jwa.RS256, claims(nil)))); res.Failure != nil {
		t.Fatalf("before the outage: %+v", res.Failure)
	}
	srv.down.Store(true)
	c.add(time.Minute) // past the refetch interval, so the unknown kid below does fetch
	// A token with an unknown kid makes a refetch, which fails: counted, and it fails with the
	// reason the cached keys give.
	other := *s["rsa2"]
	other.kid = "rotated"
	res := a.Authenticate(ctx(t), bearer(sign(t, &other, jwa.RS256, claims(nil))))
	if res.Failure == nil || res.Failure.Reason != "Jwks doesn't have key to match kid or alg from Jwt" {
		t.Fatalf("unknown kid during the outage: %+v", res.Failure)
	}
	if got := fetchErrors(t, reg, "https://issuer.test"); got < 1 {
		t.Fatalf("gatehouse_jwks_fetch_errors_total = %v, want >= 1", got)
	}
	// A token never seen before (not in the verified cache) still verifies with the cached keys.
	fresh := sign(t, s["rsa"], jwa.RS256, claims(map[string]any{"sub": "bob"}))
	if res := a.Authenticate(ctx(t), bearer(fresh)); res.Failure != nil || res.Identity.Subject != "bob" {
		t.Fatalf("during the outage: %+v", res.Failure)
	}
}

// TestUnknownKidRefetch: a kid the cached JWKS lacks triggers one refetch that finds the rotated
// key; a second unknown kid within the refetch interval does not fetch again.
func TestUnknownKidRefetch(t *testing.T) {
	t.Parallel()
	s := signers(t)
	srv := newJWKSServer(t, jwksDoc(t, publicJWK(t, s["rsa"], false)))
	c := newClock()
	k, _ := newTestKeys(t, c)
	a := mustAuthenticator(t, k, reqAuthn(&security.JWTRule{Issuer: "https://issuer.test", JwksUri: srv.URL + "/jwks"}))
	if res := a.Authenticate(ctx(t), bearer(sign(t, s["rsa"], jwa.RS256, claims(nil)))); res.Failure != nil {
		t.Fatalf("first key: %+v", res.Failure)
	}
	before := srv.hits.Load()
	srv.doc.Store(jwksDoc(t, publicJWK(t, s["rsa"], false), publicJWK(t, s["rsa2"], false)))
	c.add(time.Minute)
	if res := a.Authenticate(ctx(t), bearer(sign(t, s["rsa2"], jwa.RS256, claims(nil)))); res.Failure != nil {
		t.Fatalf("rotated key: %+v", res.Failure)
	}
	if got := srv.hits.Load() - before; got != 1 {
		t.Fatalf("refetches = %d, want 1", got)
	}
	other := *s["es256"]
	other.kid = "never"
	_ = a.Authenticate(ctx(t), bearer(sign(t, &other, jwa.ES256, claims(nil))))
	if got := srv.hits.Load() - before; got != 1 {
		t.Fatalf("refetches after a second unknown kid = %d, want still 1 (rate-limited)", got)
	}
}

// TestOIDCDiscovery: with neither jwks nor jwksUri the keys come from the issuer's discovery
// document.
func TestOIDCDiscovery(t *testing.T) {
	t.Parallel()
	s := signers(t)
	srv := newJWKSServer(t, jwksDoc(t, publicJWK(t, s["es256"], true)))
	k, _ := newTestKeys(t, newClock())
	a := mustAuthenticator(t, k, reqAuthn(&security.JWTRule{Issuer: srv.URL}))
	tok := sign(t, s["es256"], jwa.ES256, claims(map[string]any{"iss": srv.URL}))
	res := a.Authenticate(ctx(t), bearer(tok))
	if res.Failure != nil || res.Identity.Principal() != srv.URL+"/alice" {
		t.Fatalf("discovered keys: %+v %+v", res.Failure, res.Identity)
	}
}

// TestFetchTimeout: a JWKS endpoint that never answers fails the request after the rule's
// timeout with Envoy's fetch failure, and counts.
func TestFetchTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	k, reg := newTestKeys(t, newClock())
	a := mustAuthenticator(t, k, reqAuthn(&security.JWTRule{
		Issuer: "https://issuer.test", JwksUri: srv.URL + "/jwks", Timeout: durationpbOf(50 * time.Millisecond),
	}))
	res := a.Authenticate(ctx(t), bearer(sign(t, signers(t)["rsa"], jwa.RS256, claims(nil))))
	if res.Failure == nil || res.Failure.Reason != "Jwks remote fetch is failed" {
		t.Fatalf("got %+v", res.Failure)
	}
	// The failed fetch may be the background prefetch, still unwinding: poll for its count.
	for deadline := time.Now().Add(10 * time.Second); fetchErrors(t, reg, "https://issuer.test") < 1; {
		if time.Now().After(deadline) {
			t.Fatal("gatehouse_jwks_fetch_errors_total never counted the timed-out fetch")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMetricRegisteredTwice(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	k1 := NewKeys(KeysOptions{Registerer: reg})
	defer k1.Close()
	k2 := NewKeys(KeysOptions{Registerer: reg})
	defer k2.Close()
	k2.fetchErrors.WithLabelValues("x").Inc()
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP gatehouse_jwks_fetch_errors_total JWKS and OIDC discovery fetches that failed, by issuer. The last good keys keep verifying.
# TYPE gatehouse_jwks_fetch_errors_total counter
gatehouse_jwks_fetch_errors_total{issuer="x"} 1
`), "gatehouse_jwks_fetch_errors_total"); err != nil {
		t.Fatal(err)
	}
}

func durationpbOf(d time.Duration) *durationpb.Duration { return durationpb.New(d) }
