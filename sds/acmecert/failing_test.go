package acmecert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/sds"
	"github.com/gatehouse-dev/gatehouse/test/peers/loopback"
)

// selfSigned makes the Cache form of a certificate for hosts valid from notBefore to notAfter.
func selfSigned(t *testing.T, hosts []string, notBefore, notAfter time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(4242), Subject: pkix.Name{CommonName: hosts[0]}, DNSNames: hosts,
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: hosts[0]}}, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
}

// TestFailingIssuerKeepsLastGood: a cached certificate due for renewal is served at once; its
// directory is unreachable, so renewal fails, retried with growing backoff; from the third
// failure on the issuer counts as failing; the cached certificate keeps serving throughout.
func TestFailingIssuerKeepsLastGood(t *testing.T) {
	t.Parallel()
	const minB, maxB = 5 * time.Millisecond, 40 * time.Millisecond
	hosts := []string{"www.failing.example"}
	directory := fmt.Sprintf("https://127.0.0.1:%d/dir", loopback.FreePort(t)) // nothing listens
	cache := NewDirCache(t.TempDir())
	now := time.Now()
	// Two thirds of its lifetime gone: due for renewal, still valid.
	if err := cache.Put(t.Context(), certCacheKey(directory, hosts), selfSigned(t, hosts, now.Add(-50*time.Minute), now.Add(10*time.Minute))); err != nil {
		t.Fatal(err)
	}

	store := sds.NewStore(sds.StoreOptions{})
	reg := prometheus.NewRegistry()
	m := New(Options{Store: store, Cache: cache, Registerer: reg, Logger: testLogger(t), MinBackoff: minB, MaxBackoff: maxB})
	t.Cleanup(m.Close)
	const attempts = 6
	var mu sync.Mutex
	var backoffs []time.Duration
	enough := make(chan struct{})
	m.waitHook = func(_ string, d time.Duration, why string) {
		mu.Lock()
		defer mu.Unlock()
		if why != "backoff" {
			return
		}
		backoffs = append(backoffs, d)
		if len(backoffs) == attempts {
			close(enough)
		}
	}
	m.Apply([]Issuer{{Name: "istio-system/public", Namespace: "istio-system", Spec: policy.ACMEIssuer{
		DirectoryURL: directory, Hosts: hosts, CredentialName: "public-cert", Challenges: policy.DefaultACMEChallenges,
	}}})

	select {
	case <-enough:
	case <-time.After(30 * time.Second):
		t.Fatal("no retries within 30s")
	}
	mu.Lock()
	seen := append([]time.Duration(nil), backoffs[:attempts]...)
	mu.Unlock()
	for i, d := range seen {
		if want := backoff(i+1, minB, maxB); d != want {
			t.Errorf("wait after failure %d = %v, want %v (doubling from MinBackoff, capped at MaxBackoff)", i+1, d, want)
		}
	}
	if seen[len(seen)-1] != maxB {
		t.Errorf("backoff never reached MaxBackoff: %v", seen)
	}
	if got, _ := metricValue(t, reg, `gatehouse_acme_orders_total{issuer="istio-system/public",result="failed"}`); got < attempts {
		t.Errorf("failed orders = %v, want at least %d", got, attempts)
	}
	assertMetric(t, reg, `gatehouse_acme_issuer_failing{issuer="istio-system/public"}`, 1)
	c, ok := store.Get(storeName)
	if !ok || c.Serial() != big.NewInt(4242).Text(16) {
		t.Fatalf("store holds %v, %v; want the cached certificate kept through failures", c, ok)
	}

	m.Apply(nil)
	if _, ok := store.Get(storeName); ok {
		t.Error("credential still in the store after its issuer was removed")
	}
	if _, ok := metricValue(t, reg, `gatehouse_acme_issuer_failing{issuer="istio-system/public"}`); ok {
		t.Error("removed issuer's failing gauge is still exported")
	}
}

// TestApplyKeepsUnchangedWorkers: an Apply with the same issuers keeps their workers; a changed
// spec gets a new one.
func TestApplyKeepsUnchangedWorkers(t *testing.T) {
	t.Parallel()
	m := New(Options{Cache: NewDirCache(t.TempDir()), MinBackoff: time.Hour})
	t.Cleanup(m.Close)
	is := Issuer{Name: "ns/a", Namespace: "ns", Spec: policy.ACMEIssuer{
		DirectoryURL: "https://127.0.0.1:1/dir", Hosts: []string{"a.example"}, CredentialName: "a",
	}}
	worker := func() *worker {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.workers["ns/a"]
	}
	m.Apply([]Issuer{is})
	first := worker()
	m.Apply([]Issuer{is})
	if worker() != first {
		t.Error("an unchanged issuer got a new worker")
	}
	is.Spec.Email = "ops@example.com"
	m.Apply([]Issuer{is})
	if w := worker(); w == first || w == nil {
		t.Error("a changed issuer kept its worker")
	}
}
