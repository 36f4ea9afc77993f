package workload

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehouse-dev/gatehouse/sds"
)

// waitFor polls cond until it holds or a generous deadline passes: state, never timing.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runManager starts m.Run and stops it at the end of the test.
func runManager(t *testing.T, m *Manager) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func serial(s *sds.Store) string {
	if c, ok := s.Get("default"); ok {
		return c.Serial()
	}
	return ""
}

func TestManagerPublishes(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	signer := &fakeSigner{ca: ca}
	store := sds.NewStore(sds.StoreOptions{})
	reg := prometheus.NewRegistry()
	m := New(Options{Store: store, Signer: signer, TTL: time.Hour, Registerer: reg})
	if m.Current() != nil {
		t.Fatal("Current before the first certificate")
	}
	runManager(t, m)
	waitFor(t, "the first certificate", func() bool { return serial(store) != "" && m.Current() != nil })

	cred, _ := store.Get("default")
	leaf := cred.Certificate.Leaf
	if got := leaf.URIs[0].String(); got != "spiffe://cluster.local/ns/apps/sa/web" {
		t.Errorf("leaf URI %s", got)
	}
	if k, ok := cred.Certificate.PrivateKey.(*ecdsa.PrivateKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("key %T, want ECDSA P-256", cred.Certificate.PrivateKey)
	}
	if len(cred.Certificate.Certificate) != 1 {
		t.Errorf("tls.crt holds %d certificates, want the leaf only (the root goes to ROOTCA)", len(cred.Certificate.Certificate))
	}
	if cred.Roots != nil {
		t.Error("default carries roots; they belong in ROOTCA")
	}
	if bytes.Contains(cred.ChainPEM, []byte(ca.pem)) {
		t.Error("the root is in the workload chain")
	}
	root, ok := store.Get("ROOTCA")
	if !ok || root.Certificate != nil || len(root.RootCerts) != 1 || !root.RootCerts[0].Equal(ca.cert) {
		t.Fatalf("ROOTCA = %+v, %v; want the test root only", root, ok)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: root.Roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("default does not verify under ROOTCA: %v", err)
	}
	if cur := m.Current(); cur.Leaf.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Errorf("Current serial %v, store serial %v", cur.Leaf.SerialNumber, leaf.SerialNumber)
	}
	signer.mu.Lock()
	if signer.ttls[0] != time.Hour {
		t.Errorf("asked for TTL %v, want 1h", signer.ttls[0])
	}
	signer.mu.Unlock()
	if got := testutil.ToFloat64(m.metrics.rotations); got != 1 {
		t.Errorf("rotations %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.metrics.expiry); got != float64(leaf.NotAfter.Unix()) {
		t.Errorf("expiry %v, want %d", got, leaf.NotAfter.Unix())
	}
	if n, err := testutil.GatherAndCount(reg, "gatehouse_workload_cert_expiry_timestamp_seconds", "gatehouse_workload_cert_rotations_total", "gatehouse_workload_cert_errors_total"); err != nil || n != 3 {
		t.Errorf("registered metrics: %d, %v", n, err)
	}
}

// TestManagerRotates: with 2-second certificates, a new certificate (new serial, new key)
// replaces the old one, twice, with no request in between from the test.
func TestManagerRotates(t *testing.T) {
	t.Parallel()
	store := sds.NewStore(sds.StoreOptions{})
	signer := &fakeSigner{ca: newTestCA(t)}
	m := New(Options{Store: store, Signer: signer, TTL: 2 * time.Second})
	runManager(t, m)
	waitFor(t, "the first certificate", func() bool { return serial(store) != "" })
	first, _ := store.Get("default")
	waitFor(t, "a rotation", func() bool { return serial(store) != first.Serial() })
	second, _ := store.Get("default")
	if bytes.Equal(second.KeyPEM, first.KeyPEM) {
		t.Error("rotation kept the key")
	}
	waitFor(t, "a second rotation", func() bool { return serial(store) != second.Serial() })
	signer.mu.Lock()
	defer signer.mu.Unlock()
	if len(signer.csrs[0].URIs) != 0 {
		t.Errorf("first CSR asks for %v; the identity is not known yet", signer.csrs[0].URIs)
	}
	if u := signer.csrs[1].URIs; len(u) != 1 || u[0].String() != "spiffe://cluster.local/ns/apps/sa/web" {
		t.Errorf("renewal CSR asks for %v, want the identity in force", u)
	}
	if got := testutil.ToFloat64(m.metrics.rotations); got < 3 {
		t.Errorf("rotations %v, want at least 3", got)
	}
}

// TestManagerOutage: while the CA fails, the certificate in force keeps serving; when it comes
// back, the next attempt rotates.
func TestManagerOutage(t *testing.T) {
	t.Parallel()
	signer := &fakeSigner{ca: newTestCA(t)}
	store := sds.NewStore(sds.StoreOptions{})
	m := New(Options{Store: store, Signer: signer, TTL: 2 * time.Second, MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	runManager(t, m)
	waitFor(t, "the first certificate", func() bool { return serial(store) != "" })
	first := serial(store)
	signer.fail.Store(true)
	waitFor(t, "failed renewals", func() bool { return testutil.ToFloat64(m.metrics.errors) >= 3 })
	if got := serial(store); got != first {
		t.Fatalf("serial %s during the outage, want the old %s", got, first)
	}
	if m.Current().Leaf.SerialNumber.Text(16) != first {
		t.Error("Current changed during the outage")
	}
	signer.fail.Store(false)
	waitFor(t, "a rotation after the outage", func() bool { return serial(store) != first })
}

// TestManagerRejectsBadAnswers: a CA answer that would break the workload is an error, and
// nothing is published.
func TestManagerRejectsBadAnswers(t *testing.T) {
	t.Parallel()
	ca, other := newTestCA(t), newTestCA(t)
	otherKeyCSR := func() []byte {
		_, csr, err := newKey("")
		if err != nil {
			t.Fatal(err)
		}
		return csr
	}()
	tests := []struct {
		name    string
		respond func(csr []byte) ([]string, error)
		logged  string
	}{
		{"leaf only, no root", func(csr []byte) ([]string, error) {
			c, err := ca.sign(csr, time.Hour)
			return c[:1], err
		}, "want the leaf and at least the root"},
		{"not PEM", func([]byte) ([]string, error) { return []string{"garbage", ca.pem}, nil }, "cert_chain[0]: not a PEM certificate"},
		{"certificate for another key", func([]byte) ([]string, error) { return ca.sign(otherKeyCSR, time.Hour) }, "private key does not match"},
		{"root that did not sign the leaf", func(csr []byte) ([]string, error) {
			c, err := ca.sign(csr, time.Hour)
			return []string{c[0], other.pem}, err
		}, "not valid under the returned root"},
		{"expired", func(csr []byte) ([]string, error) { return ca.sign(csr, -time.Minute) }, "not valid under the returned root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logs := &syncBuffer{}
			store := sds.NewStore(sds.StoreOptions{})
			m := New(Options{
				Store: store, Signer: &fakeSigner{ca: ca, respond: tt.respond},
				Logger:     slog.New(slog.NewTextHandler(logs, nil)),
				MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
			})
			runManager(t, m)
			waitFor(t, "failed attempts", func() bool { return testutil.ToFloat64(m.metrics.errors) >= 2 })
			if _, ok := store.Get("default"); ok {
				t.Error("a bad answer was published")
			}
			if m.Current() != nil {
				t.Error("Current set from a bad answer")
			}
			out := logs.String()
			if !strings.Contains(out, tt.logged) || !strings.Contains(out, "level=ERROR") {
				t.Errorf("log does not say %q at error level:\n%s", tt.logged, out)
			}
			if strings.Contains(out, "PRIVATE KEY") {
				t.Error("key material in the log")
			}
		})
	}
}

func TestManagerFailureLogLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		life   time.Duration // 0: no certificate
		n      int
		level  string
		phrase string
	}{
		{"no certificate yet", 0, 1, "ERROR", "no workload certificate yet"},
		{"renewal fails, plenty left", time.Hour, 1, "WARN", "the current one keeps serving"},
		{"renewal fails, expires before the next attempt", time.Second, 10, "ERROR", "expires before the next attempt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logs := &syncBuffer{}
			m := New(Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
			now := time.Now()
			if tt.life > 0 {
				m.cur.Store(&issued{cert: &tls.Certificate{Leaf: &x509.Certificate{NotAfter: now.Add(tt.life)}}})
			}
			m.failed(errTest, tt.n, now)
			if out := logs.String(); !strings.Contains(out, "level="+tt.level) || !strings.Contains(out, tt.phrase) {
				t.Errorf("log %q, want %s %q", out, tt.level, tt.phrase)
			}
		})
	}
}

func TestManagerNeedsStoreAndSigner(t *testing.T) {
	t.Parallel()
	if err := New(Options{}).Run(context.Background()); err == nil {
		t.Error("Run without a Store and a Signer succeeded")
	}
	var m *Manager
	if m.Current() != nil {
		t.Error("nil Manager has a certificate")
	}
}

func TestNewKey(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"", "spiffe://cluster.local/ns/apps/sa/web"} {
		keyPEM, csrPEM, err := newKey(id)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := pem.Decode(csrPEM)
		csr, err := x509.ParseCertificateRequest(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if err := csr.CheckSignature(); err != nil {
			t.Errorf("%q: CSR signature: %v", id, err)
		}
		var uris []string
		for _, u := range csr.URIs {
			uris = append(uris, u.String())
		}
		want := []string{id}
		if id == "" {
			want = nil
		}
		if !slices.Equal(uris, want) || len(csr.DNSNames)+len(csr.IPAddresses)+len(csr.EmailAddresses) != 0 || csr.Subject.String() != "" {
			t.Errorf("%q: CSR asks for %v %v", id, uris, csr.Subject)
		}
		kb, _ := pem.Decode(keyPEM)
		key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if k, ok := key.(*ecdsa.PrivateKey); !ok || k.Curve != elliptic.P256() || !k.PublicKey.Equal(csr.PublicKey) {
			t.Errorf("%q: key is not the CSR's ECDSA P-256 key", id)
		}
	}
}

func TestMergeRoots(t *testing.T) {
	t.Parallel()
	a, b, c := pemCert(t, "a"), pemCert(t, "b"), pemCert(t, "c")
	tests := []struct {
		name         string
		root, bundle string
		want         string
	}{
		{"no bundle", a, "", a},
		{"bundle holds the root", a, a, a},
		{"root first, then the others once", b, a + b + c + a, b + a + c},
		{"bundle junk skipped", a, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" + c, a + c},
	}
	for _, tt := range tests {
		if got := string(mergeRoots([]byte(tt.root), []byte(tt.bundle))); got != tt.want {
			t.Errorf("%s: got %d bytes, want %d", tt.name, len(got), len(tt.want))
		}
	}
}

// TestManagerCAChanged: a Signer that knows its CA (Local) gets its whole bundle into ROOTCA, and
// a CA change re-issues at once, long before rotation is due.
func TestManagerCAChanged(t *testing.T) {
	t.Parallel()
	ca, next := newTestCA(t), newTestCA(t)
	signer := &watchedSigner{fakeSigner: &fakeSigner{ca: ca}, bundle: ca.pem + next.pem, ch: make(chan struct{})}
	store := sds.NewStore(sds.StoreOptions{})
	m := New(Options{Store: store, Signer: signer, TTL: 24 * time.Hour})
	runManager(t, m)
	waitFor(t, "the first certificate", func() bool { return serial(store) != "" })
	first := serial(store)
	root, _ := store.Get("ROOTCA")
	if len(root.RootCerts) != 2 || !root.RootCerts[0].Equal(ca.cert) || !root.RootCerts[1].Equal(next.cert) {
		t.Errorf("ROOTCA holds %d roots, want the chain's root then the other bundle root", len(root.RootCerts))
	}
	signer.change()
	waitFor(t, "a re-issue after the CA changed", func() bool { return serial(store) != first })
	if got := signer.calls.Load(); got != 2 {
		t.Errorf("%d CreateCertificate calls, want 2", got)
	}
}

func TestSplitChain(t *testing.T) {
	t.Parallel()
	a, b, c := pemCert(t, "leaf"), pemCert(t, "intermediate"), pemCert(t, "root")
	tests := []struct {
		name        string
		chain       []string
		certs, root string
		err         string
	}{
		{"leaf and root", []string{a, c}, a, c, ""},
		{"with an intermediate", []string{a, b, c}, a + b, c, ""},
		{"several certificates in one element", []string{a + b, c}, a + b, c, ""},
		{"root only", []string{c}, "", "", "1 certificate(s)"},
		{"empty", nil, "", "", "0 certificate(s)"},
		{"not a certificate", []string{a, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}, "", "", `cert_chain[1]: PEM block "PRIVATE KEY"`},
		{"trailing garbage", []string{a + "junk", c}, "", "", "cert_chain[0]: not a PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			certs, root, err := splitChain(tt.chain)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || string(certs) != tt.certs || string(root) != tt.root {
				t.Errorf("splitChain = %d bytes, %d bytes, %v", len(certs), len(root), err)
			}
		})
	}
}

var errTest = errors.New("test failure")

// leafCert is a tls.Certificate (Leaf set) valid from now for life.
func (c *testCA) leafCert(t *testing.T, life time.Duration) *tls.Certificate {
	t.Helper()
	_, csr, err := newKey("")
	if err != nil {
		t.Fatal(err)
	}
	chain, err := c.sign(csr, life)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode([]byte(chain[0]))
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{leaf.Raw}, Leaf: leaf}
}

func pemCert(t *testing.T, cn string) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// syncBuffer is a bytes.Buffer safe for a logger writing while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
