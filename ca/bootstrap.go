package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Bootstrap root files, under Options.DataDir.
const (
	bootstrapDir     = "ca"
	bootstrapCert    = "root-cert.pem"
	bootstrapKey     = "root-key.pem"
	bootstrapRootTTL = 10 * 365 * 24 * time.Hour
)

// BootstrapFiles are where New keeps, and looks for, the bootstrapped root under dataDir: a
// root placed there beforehand (from a Kubernetes Secret, say) is loaded instead of a new one.
func BootstrapFiles(dataDir string) (certFile, keyFile string) {
	dir := filepath.Join(dataDir, bootstrapDir)
	return filepath.Join(dir, bootstrapCert), filepath.Join(dir, bootstrapKey)
}

// bootstrap loads the root bootstrapped on an earlier start, or creates one. A half-present
// pair (cert without key, or the reverse) is an error rather than a silent new root: a new
// root would invalidate every certificate the mesh holds.
func (a *Authority) bootstrap() (*signer, error) {
	if a.opts.DataDir == "" {
		return nil, errors.New("no plug-in CA and no data dir to bootstrap a root in")
	}
	dir := filepath.Join(a.opts.DataDir, bootstrapDir)
	certFile, keyFile := filepath.Join(dir, bootstrapCert), filepath.Join(dir, bootstrapKey)
	certPEM, certErr := os.ReadFile(certFile)
	keyPEM, keyErr := os.ReadFile(keyFile)
	switch {
	case certErr == nil && keyErr == nil:
		return bootstrapSigner(certFile, certPEM, keyFile, keyPEM, a.now())
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
	case certErr != nil && !errors.Is(certErr, fs.ErrNotExist):
		return nil, fmt.Errorf("bootstrap root: %w", certErr)
	case keyErr != nil && !errors.Is(keyErr, fs.ErrNotExist):
		return nil, fmt.Errorf("bootstrap root: %w", keyErr)
	default:
		return nil, fmt.Errorf("bootstrap root in %s: one of %s and %s is missing; restore it or remove both to create a new root", dir, bootstrapCert, bootstrapKey)
	}

	certPEM, keyPEM, err := newRoot(a.opts.TrustDomain, a.now())
	if err != nil {
		return nil, fmt.Errorf("bootstrap root: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bootstrap root: %w", err)
	}
	// The key goes first: a crash between the two writes leaves a key without a cert, which
	// the next start reports instead of silently minting a second root.
	if err := writeFileAtomic(keyFile, keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("bootstrap root: %w", err)
	}
	if err := writeFileAtomic(certFile, certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("bootstrap root: %w", err)
	}
	s, err := bootstrapSigner(certFile, certPEM, keyFile, keyPEM, a.now())
	if err != nil {
		return nil, err
	}
	s.source = "bootstrapped " + certFile
	a.log.Warn("bootstrapped a new root CA; distribute its certificate to every peer that must trust this mesh", "cert", certFile, "key", keyFile)
	return s, nil
}

func bootstrapSigner(certFile string, certPEM []byte, keyFile string, keyPEM []byte, now time.Time) (*signer, error) {
	certs, err := parseCerts(certPEM)
	if err != nil {
		return nil, fmt.Errorf("bootstrap root %s: %w", certFile, err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("bootstrap root %s: %w", keyFile, err)
	}
	s, err := newSigner(certs[0], key, nil, certs[:1], now, "bootstrap "+certFile)
	if err != nil {
		return nil, fmt.Errorf("bootstrap root %s: %w", certFile, err)
	}
	return s, nil
}

// newRoot creates a self-signed ECDSA P-256 root valid for ten years. MaxPathLen 1 lets it
// sign leaves directly and also one level of per-cluster intermediates, should it later be
// exported to plug into other clusters (Istio's multi-cluster plug-in CA pattern).
func newRoot(trustDomain string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Gatehouse Root CA", Organization: []string{trustDomain}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(bootstrapRootTTL),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// writeFileAtomic writes via a synced temporary file renamed into place, so a reader or a
// crash never sees a partial file.
func writeFileAtomic(name string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op once renamed
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}
