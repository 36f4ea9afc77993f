package workload

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testCA is a tiny CA with serials counting from 1, standing in for the real one.
type testCA struct {
	key    *ecdsa.PrivateKey
	cert   *x509.Certificate
	pem    string
	serial atomic.Int64
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1000), Subject: pkix.Name{CommonName: "test root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{key: key, cert: cert, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// sign issues a leaf for the CSR's key, as the real CA does: its names ignored, one SPIFFE URI.
func (c *testCA) sign(csrPEM []byte, ttl time.Duration) ([]string, error) {
	b, _ := pem.Decode(csrPEM)
	if b == nil || b.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("not a PEM CSR")
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, err
	}
	id, _ := url.Parse("spiffe://cluster.local/ns/apps/sa/web")
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(c.serial.Add(1)), URIs: []*url.URL{id},
		NotBefore: now, NotAfter: now.Add(ttl),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, csr.PublicKey, c.key)
	if err != nil {
		return nil, err
	}
	return []string{string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), c.pem}, nil
}

// fakeSigner signs with a testCA, or fails while told to, or answers with respond when set.
type fakeSigner struct {
	ca      *testCA
	fail    atomic.Bool
	calls   atomic.Int64
	mu      sync.Mutex
	ttls    []time.Duration
	csrs    []*x509.CertificateRequest
	respond func(csrPEM []byte) ([]string, error)
}

func (f *fakeSigner) CreateCertificate(ctx context.Context, csrPEM []byte, ttl time.Duration) ([]string, error) {
	f.calls.Add(1)
	f.mu.Lock()
	f.ttls = append(f.ttls, ttl)
	if b, _ := pem.Decode(csrPEM); b != nil {
		if csr, err := x509.ParseCertificateRequest(b.Bytes); err == nil {
			f.csrs = append(f.csrs, csr)
		}
	}
	respond := f.respond
	f.mu.Unlock()
	if f.fail.Load() {
		return nil, fmt.Errorf("CA unreachable (test outage)")
	}
	if respond != nil {
		return respond(csrPEM)
	}
	return f.ca.sign(csrPEM, ttl)
}

// watchedSigner is a fakeSigner that also knows a trust bundle and says when its CA changes,
// as Local does.
type watchedSigner struct {
	*fakeSigner
	bundle string
	mu     sync.Mutex
	ch     chan struct{}
}

func (w *watchedSigner) trustBundle() []byte { return []byte(w.bundle) }

func (w *watchedSigner) changed() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ch
}

// change fires the current channel and installs the next one, as ca.Authority.Changed does.
func (w *watchedSigner) change() {
	w.mu.Lock()
	defer w.mu.Unlock()
	close(w.ch)
	w.ch = make(chan struct{})
}
