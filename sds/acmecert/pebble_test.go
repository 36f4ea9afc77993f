package acmecert

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/sds"
	"github.com/gatehouse-dev/gatehouse/test/peers/loopback"
	"github.com/gatehouse-dev/gatehouse/test/peers/pebblepeer"
)

// acmeEnv is a started Pebble whose validation authority reaches this test's stand-ins for
// the gateway's HTTP and HTTPS ports, which hand challenge requests to the Managers in use.
type acmeEnv struct {
	peer        *pebblepeer.Peer
	httpAnswers atomic.Int32 // HTTP-01 requests a Manager answered
	alpnAnswers atomic.Int32 // acme-tls/1 handshakes a Manager answered

	mu       sync.Mutex
	managers []*Manager
}

func startACMEEnv(t *testing.T, lifetime time.Duration) *acmeEnv {
	t.Helper()
	return startACMEEnvWith(t, pebblepeer.Options{CertificateLifetime: lifetime})
}

// startACMEEnvWith starts Pebble with o; the challenge ports are the env's.
func startACMEEnvWith(t *testing.T, o pebblepeer.Options) *acmeEnv {
	t.Helper()
	pebblepeer.SkipIfMissing(t)
	e := &acmeEnv{}
	httpPort, tlsPort := loopback.FreePort(t), loopback.FreePort(t)

	// The gateway's HTTP port: HTTPChallenge ahead of routing (here: 404).
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", httpPort))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, m := range e.current() {
			if m.HTTPChallenge(w, r) {
				e.httpAnswers.Add(1)
				return
			}
		}
		http.NotFound(w, r)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	// The gateway's HTTPS port: TLSALPNCertificate for acme-tls/1 ClientHellos.
	tln, err := tls.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", tlsPort), &tls.Config{
		NextProtos: []string{"acme-tls/1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			for _, m := range e.current() {
				if c, ok := m.TLSALPNCertificate(hello); ok {
					e.alpnAnswers.Add(1)
					return c, nil
				}
			}
			return nil, errors.New("no certificate")
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	conns.Add(1)
	go func() {
		defer conns.Done()
		for {
			c, err := tln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				_ = c.(*tls.Conn).Handshake()
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() { tln.Close(); conns.Wait() })

	o.HTTPPort, o.TLSPort = httpPort, tlsPort
	e.peer = pebblepeer.Start(t, o)
	return e
}

func (e *acmeEnv) current() []*Manager {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.managers
}

// manager starts a Manager on cache that answers this env's challenges, with its own store
// and metrics registry.
func (e *acmeEnv) manager(t *testing.T, cache Cache) (*Manager, *sds.Store, *prometheus.Registry) {
	t.Helper()
	store := sds.NewStore(sds.StoreOptions{})
	reg := prometheus.NewRegistry()
	m := New(Options{Store: store, Cache: cache, Registerer: reg, Logger: testLogger(t),
		MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second})
	t.Cleanup(m.Close)
	e.mu.Lock()
	e.managers = append(e.managers, m)
	e.mu.Unlock()
	return m, store, reg
}

func (e *acmeEnv) issuer(challenges []string, hosts ...string) Issuer {
	return Issuer{
		Name: "istio-system/public", Namespace: "istio-system",
		Spec: policy.ACMEIssuer{
			DirectoryURL:   e.peer.Directory,
			Email:          "ops@gatehouse.test",
			CABundle:       string(e.peer.DirectoryCAPEM),
			Challenges:     challenges,
			Hosts:          hosts,
			CredentialName: "public-cert",
		},
	}
}

// waitCredential waits until the store holds name with a serial other than notSerial.
func waitCredential(t *testing.T, store *sds.Store, name, notSerial string, timeout time.Duration) *sds.Credential {
	t.Helper()
	deadline := time.After(timeout)
	for {
		version, changed := store.Version()
		if c, ok := store.Get(name); ok && c.Serial() != notSerial {
			return c
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("store has no new credential %s after %v (store version %d)", name, timeout, version)
		}
	}
}

// verifyFor checks the credential's chain against Pebble's root for every host.
func (e *acmeEnv) verifyFor(t *testing.T, c *sds.Credential, hosts ...string) {
	t.Helper()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(e.peer.Roots(t)) {
		t.Fatal("Pebble roots: no certificate")
	}
	inter := x509.NewCertPool()
	for _, der := range c.Certificate.Certificate[1:] {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		inter.AddCert(cert)
	}
	for _, h := range hosts {
		if _, err := c.Certificate.Leaf.Verify(x509.VerifyOptions{DNSName: h, Roots: roots, Intermediates: inter}); err != nil {
			t.Errorf("certificate does not verify for %s against Pebble's root: %v", h, err)
		}
	}
	if !sameNames(c.Certificate.Leaf.DNSNames, hosts) {
		t.Errorf("certificate names %v, want exactly %v", c.Certificate.Leaf.DNSNames, hosts)
	}
}

const storeName = "istio-system/public-cert"

func TestIssueHTTP01(t *testing.T) {
	t.Parallel()
	e := startACMEEnv(t, 0)
	m, store, reg := e.manager(t, NewDirCache(t.TempDir()))
	hosts := []string{"www.http01.example", "http01.example"}
	before := e.peer.Orders(t)
	m.Apply([]Issuer{e.issuer([]string{policy.ACMEChallengeHTTP01}, hosts...)})

	c := waitCredential(t, store, storeName, "", time.Minute)
	e.verifyFor(t, c, hosts...)
	if got := e.peer.Orders(t); got != before+1 {
		t.Errorf("Pebble orders = %d, want %d: one order for all hosts", got, before+1)
	}
	if n := e.httpAnswers.Load(); n < int32(len(hosts)) {
		t.Errorf("HTTP-01 answers = %d, want one per host (%d)", n, len(hosts))
	}
	if n := e.alpnAnswers.Load(); n != 0 {
		t.Errorf("TLS-ALPN-01 answered %d times though the issuer allows only HTTP-01", n)
	}
	assertMetric(t, reg, `gatehouse_acme_orders_total{issuer="istio-system/public",result="ok"}`, 1)
	assertMetric(t, reg, `gatehouse_acme_certificate_expiry_timestamp_seconds{issuer="istio-system/public"}`, float64(c.NotAfter().Unix()))
}

func TestIssueTLSALPN01AndRestartReusesCache(t *testing.T) {
	t.Parallel()
	e := startACMEEnv(t, 0)
	dir := t.TempDir()
	m, store, _ := e.manager(t, NewDirCache(dir))
	hosts := []string{"www.alpn.example", "alpn.example"}
	is := e.issuer(policy.DefaultACMEChallenges, hosts...)
	before := e.peer.Orders(t)
	m.Apply([]Issuer{is})

	c := waitCredential(t, store, storeName, "", time.Minute)
	e.verifyFor(t, c, hosts...)
	if n := e.alpnAnswers.Load(); n == 0 {
		t.Error("no TLS-ALPN-01 answer, though it is the preferred challenge")
	}
	if n := e.httpAnswers.Load(); n != 0 {
		t.Errorf("HTTP-01 answered %d times though TLS-ALPN-01 is preferred", n)
	}
	if got := e.peer.Orders(t); got != before+1 {
		t.Fatalf("Pebble orders = %d, want %d", got, before+1)
	}

	// A restart: a new Manager on the same directory serves the cached certificate.
	m.Close()
	m2, store2, reg2 := e.manager(t, NewDirCache(dir))
	m2.Apply([]Issuer{is})
	c2 := waitCredential(t, store2, storeName, "", 10*time.Second)
	if c2.Serial() != c.Serial() {
		t.Errorf("after restart serial = %s, want the cached %s", c2.Serial(), c.Serial())
	}
	if got := e.peer.Orders(t); got != before+1 {
		t.Errorf("Pebble orders = %d after restart, want %d: the cache was not reused", got, before+1)
	}
	assertMetric(t, reg2, `gatehouse_acme_orders_total{issuer="istio-system/public",result="ok"}`, 0)

	// Removing the issuer takes its credential out of the store.
	m2.Apply(nil)
	if _, ok := store2.Get(storeName); ok {
		t.Error("credential still in the store after its issuer was removed")
	}
}

func TestTwoReplicasOrderOnce(t *testing.T) {
	t.Parallel()
	e := startACMEEnv(t, 0)
	dir := t.TempDir()
	hosts := []string{"www.replicas.example"}
	is := e.issuer([]string{policy.ACMEChallengeHTTP01}, hosts...)
	m1, store1, _ := e.manager(t, NewDirCache(dir))
	m2, store2, _ := e.manager(t, NewDirCache(dir))
	before := e.peer.Orders(t)
	var start sync.WaitGroup
	for _, m := range []*Manager{m1, m2} {
		start.Go(func() { m.Apply([]Issuer{is}) })
	}
	start.Wait()

	c1 := waitCredential(t, store1, storeName, "", time.Minute)
	c2 := waitCredential(t, store2, storeName, "", time.Minute)
	if c1.Serial() != c2.Serial() {
		t.Errorf("replicas serve serials %s and %s, want one certificate", c1.Serial(), c2.Serial())
	}
	e.verifyFor(t, c1, hosts...)
	if got := e.peer.Orders(t); got != before+1 {
		t.Errorf("Pebble orders = %d, want %d: replicas sharing a cache ordered twice", got, before+1)
	}
}

func TestRenewal(t *testing.T) {
	t.Parallel()
	// 30 s certificates renew 20 s after issuance.
	e := startACMEEnv(t, 30*time.Second)
	m, store, reg := e.manager(t, NewDirCache(t.TempDir()))
	hosts := []string{"www.renew.example"}
	before := e.peer.Orders(t)
	m.Apply([]Issuer{e.issuer(nil, hosts...)})
	first := waitCredential(t, store, storeName, "", time.Minute)
	renewed := waitCredential(t, store, storeName, first.Serial(), time.Minute)
	e.verifyFor(t, renewed, hosts...)
	if !renewed.NotAfter().After(first.NotAfter()) {
		t.Errorf("renewed certificate expires %v, not after the first's %v", renewed.NotAfter(), first.NotAfter())
	}
	if got := e.peer.Orders(t); got < before+2 {
		t.Errorf("Pebble orders = %d, want at least %d", got, before+2)
	}
	assertMetricAtLeast(t, reg, `gatehouse_acme_orders_total{issuer="istio-system/public",result="ok"}`, 2)
}

func TestExternalAccountBinding(t *testing.T) {
	t.Parallel()
	hmacKey := []byte("0123456789abcdef0123456789abcdef")
	e := startACMEEnvWith(t, pebblepeer.Options{
		RequireExternalAccountBinding: true,
		ExternalAccountMACKeys:        map[string]string{"kid-1": base64.RawURLEncoding.EncodeToString(hmacKey)},
	})
	m, store, _ := e.manager(t, NewDirCache(t.TempDir()))
	hosts := []string{"www.eab.example"}
	is := e.issuer([]string{policy.ACMEChallengeHTTP01}, hosts...)
	is.Spec.ExternalAccountBinding = &policy.ACMEExternalAccountBinding{KeyID: "kid-1", HMACKey: policy.SecretKeyRef{Name: "acme-eab", Key: "hmac"}}
	is.EABKey = hmacKey
	m.Apply([]Issuer{is})
	e.verifyFor(t, waitCredential(t, store, storeName, "", time.Minute), hosts...)
}
