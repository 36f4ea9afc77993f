package ca

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Plug-in CA file names. Istio's cacerts secret (istiod reads /etc/cacerts) and the
// kubernetes.io/tls form istiod also accepts.
const (
	pluginCert     = "ca-cert.pem"    // the signing (intermediate) certificate
	pluginKey      = "ca-key.pem"     // its key
	pluginChain    = "cert-chain.pem" // ca-cert up to, not always including, the root
	pluginRoots    = "root-cert.pem"  // the trust bundle: one or more roots
	pluginTLSCert  = "tls.crt"        // signing certificate, optionally followed by its chain
	pluginTLSKey   = "tls.key"
	pluginTLSRoots = "ca.crt"
)

// loadPlugin reads and validates the plug-in CA in dir. The cacerts layout wins when both are
// present, since it is Istio's primary form.
func loadPlugin(dir string, now time.Time) (*signer, error) {
	if exists(filepath.Join(dir, pluginKey)) {
		return loadCacerts(dir, now)
	}
	if exists(filepath.Join(dir, pluginTLSKey)) {
		return loadTLSSecret(dir, now)
	}
	return nil, fmt.Errorf("plug-in CA %s: neither %s (cacerts layout) nor %s (kubernetes.io/tls layout) found", dir, pluginKey, pluginTLSKey)
}

func loadCacerts(dir string, now time.Time) (*signer, error) {
	certs, err := readCerts(dir, pluginCert)
	if err != nil {
		return nil, err
	}
	key, err := readKey(dir, pluginKey)
	if err != nil {
		return nil, err
	}
	roots, err := readCerts(dir, pluginRoots)
	if err != nil {
		return nil, err
	}
	// cert-chain.pem is optional: with the signing cert issued straight by a bundle root
	// there is nothing between them.
	var chain []*x509.Certificate
	if exists(filepath.Join(dir, pluginChain)) {
		if chain, err = readCerts(dir, pluginChain); err != nil {
			return nil, err
		}
	}
	intermediates := slices.Concat(certs[1:], chain)
	s, err := newSigner(certs[0], key, intermediates, roots, now, "plug-in "+filepath.Join(dir, pluginCert))
	if err != nil {
		return nil, fmt.Errorf("plug-in CA %s: %w", dir, err)
	}
	return s, nil
}

func loadTLSSecret(dir string, now time.Time) (*signer, error) {
	certs, err := readCerts(dir, pluginTLSCert)
	if err != nil {
		return nil, err
	}
	key, err := readKey(dir, pluginTLSKey)
	if err != nil {
		return nil, err
	}
	roots, err := readCerts(dir, pluginTLSRoots)
	if err != nil {
		return nil, err
	}
	s, err := newSigner(certs[0], key, certs[1:], roots, now, "plug-in "+filepath.Join(dir, pluginTLSCert))
	if err != nil {
		return nil, fmt.Errorf("plug-in CA %s: %w", dir, err)
	}
	return s, nil
}

func readCerts(dir, name string) ([]*x509.Certificate, error) {
	file := filepath.Join(dir, name)
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("plug-in CA: %w", err)
	}
	certs, err := parseCerts(data)
	if err != nil {
		return nil, fmt.Errorf("plug-in CA %s: %w", file, err)
	}
	return certs, nil
}

func readKey(dir, name string) (crypto.Signer, error) {
	file := filepath.Join(dir, name)
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("plug-in CA: %w", err)
	}
	key, err := parseKey(data)
	if err != nil {
		return nil, fmt.Errorf("plug-in CA %s: %w", file, err)
	}
	return key, nil
}

func exists(name string) bool {
	_, err := os.Stat(name)
	return !errors.Is(err, fs.ErrNotExist)
}
