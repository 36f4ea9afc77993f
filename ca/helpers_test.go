package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testCA is a CA certificate and key made by the tests, standing in for a user's own PKI.
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
	keyPEM  []byte
}

func newTestRoot(t *testing.T, cn string, notAfter time.Time) *testCA {
	t.Helper()
	return makeTestCA(t, nil, cn, notAfter, true, x509.KeyUsageCertSign|x509.KeyUsageCRLSign)
}

func (p *testCA) child(t *testing.T, cn string, notAfter time.Time) *testCA {
	t.Helper()
	return makeTestCA(t, p, cn, notAfter, true, x509.KeyUsageCertSign|x509.KeyUsageCRLSign)
}

func makeTestCA(t *testing.T, parent *testCA, cn string, notAfter time.Time, isCA bool, ku x509.KeyUsage) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := randomSerial()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              notAfter,
		KeyUsage:              ku,
		BasicConstraintsValid: true,
		IsCA:                  isCA,
	}
	issuer, signer := tmpl, key
	if parent != nil {
		issuer, signer = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{
		cert:    cert,
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
}

// newCSR makes a CSR that asks for names the CA must ignore.
func newCSR(t *testing.T, dns []string, uris ...string) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: "evil", Organization: []string{"evil"}}, DNSNames: dns}
	for _, u := range uris {
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, parsed)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), key
}

// writeFiles writes each file by rename, as a Kubernetes secret update or a careful operator
// does, so the watcher never reads half a file.
func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		if err := writeFileAtomic(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func cacertsFiles(signing *testCA, chain, roots []byte) map[string][]byte {
	files := map[string][]byte{
		pluginCert:  signing.certPEM,
		pluginKey:   signing.keyPEM,
		pluginRoots: roots,
	}
	if chain != nil {
		files[pluginChain] = chain
	}
	return files
}

func parseChain(t *testing.T, chain []string) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for i, p := range chain {
		certs, err := parseCerts([]byte(p))
		if err != nil || len(certs) != 1 {
			t.Fatalf("chain[%d]: %d certs, %v", i, len(certs), err)
		}
		out = append(out, certs[0])
	}
	return out
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func mustNew(t *testing.T, o Options) *Authority {
	t.Helper()
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
