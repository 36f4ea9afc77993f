package sds

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// Credential is a parsed, validated credential: what a TLS server presents (Certificate) and/or
// what it trusts to verify peers (Roots, CRL). Credentials are immutable once in a Store.
type Credential struct {
	// Name is the Store key: "namespace/name" for Secrets, or an Istio file resource name
	// ("file-cert:<cert>~<key>", "file-root:<ca>").
	Name string
	// Version is the Store version at which this credential last changed.
	Version uint64

	// Certificate is the serving chain (leaf first) and key, ready for crypto/tls, with Leaf set.
	// Nil for a trust-only credential.
	Certificate *tls.Certificate
	ChainPEM    []byte
	KeyPEM      []byte

	// Roots verify peers (Secret keys ca.crt or cacert). Nil when the credential has none.
	Roots     *x509.CertPool
	RootCerts []*x509.Certificate
	RootsPEM  []byte

	// CRL (Secret keys ca.crl or crl) lists revoked peer certificates. Nil when absent.
	CRL    *x509.RevocationList
	CRLPEM []byte
}

// Serial is the leaf certificate's serial number in hex, "" for a trust-only credential.
func (c *Credential) Serial() string {
	if c.Certificate == nil {
		return ""
	}
	return c.Certificate.Leaf.SerialNumber.Text(16)
}

// NotAfter is when the leaf (or, trust-only, the first root) expires.
func (c *Credential) NotAfter() time.Time {
	switch {
	case c.Certificate != nil:
		return c.Certificate.Leaf.NotAfter
	case len(c.RootCerts) > 0:
		return c.RootCerts[0].NotAfter
	}
	return time.Time{}
}

// Fingerprint is the SHA-256 of the leaf (or first root) DER, for logs and /debug/certs.
func (c *Credential) Fingerprint() string {
	var der []byte
	switch {
	case c.Certificate != nil:
		der = c.Certificate.Leaf.Raw
	case len(c.RootCerts) > 0:
		der = c.RootCerts[0].Raw
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// The Secret keys of Istio's two layouts: kubernetes.io/tls style and Istio's generic style.
var (
	certKeys  = []string{"tls.crt", "cert"}
	keyKeys   = []string{"tls.key", "key"}
	rootsKeys = []string{"ca.crt", "cacert"}
	crlKeys   = []string{"ca.crl", "crl"}
)

func first(data map[string][]byte, keys []string) ([]byte, string) {
	for _, k := range keys {
		if v, ok := data[k]; ok && len(bytes.TrimSpace(v)) > 0 {
			return v, k
		}
	}
	return nil, ""
}

// ParseSecret builds a credential from Secret data in either Istio layout: tls.crt, tls.key,
// ca.crt, ca.crl or cert, key, cacert, crl. A Secret with only a CA is a trust-only credential.
// Errors never quote key material. Warnings are for what loads but will likely fail a handshake
// (an expired or not-yet-valid certificate).
func ParseSecret(data map[string][]byte, now time.Time) (c *Credential, warnings []string, err error) {
	cert, certKey := first(data, certKeys)
	key, keyKey := first(data, keyKeys)
	roots, rootsKey := first(data, rootsKeys)
	crl, crlKey := first(data, crlKeys)
	return parse(cert, key, roots, crl, [4]string{certKey, keyKey, rootsKey, crlKey}, now)
}

// ParsePEM builds a credential from files' contents; any of them may be nil.
func ParsePEM(cert, key, roots, crl []byte, now time.Time) (*Credential, []string, error) {
	return parse(cert, key, roots, crl, [4]string{"certificate", "private key", "CA certificates", "CRL"}, now)
}

func parse(certPEM, keyPEM, rootsPEM, crlPEM []byte, names [4]string, now time.Time) (*Credential, []string, error) {
	c := &Credential{}
	var warnings []string
	switch {
	case certPEM != nil && keyPEM == nil:
		return nil, nil, fmt.Errorf("%s is present but there is no private key (tls.key or key)", names[0])
	case certPEM == nil && keyPEM != nil:
		return nil, nil, fmt.Errorf("%s is present but there is no certificate (tls.crt or cert)", names[1])
	case certPEM == nil && rootsPEM == nil:
		return nil, nil, errors.New("no certificate and no CA: expected tls.crt and tls.key, cert and key, or ca.crt / cacert")
	}
	if certPEM != nil {
		chain, err := parseCerts(certPEM)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", names[0], err)
		}
		if err := checkChainOrder(chain); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", names[0], err)
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %s", names[1], keyError(err))
		}
		pair.Leaf = chain[0]
		c.Certificate, c.ChainPEM, c.KeyPEM = &pair, certPEM, keyPEM
		warnings = append(warnings, validity(names[0], chain[0], now)...)
	}
	if rootsPEM != nil {
		certs, err := parseCerts(rootsPEM)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", names[2], err)
		}
		c.Roots = x509.NewCertPool()
		for _, r := range certs {
			c.Roots.AddCert(r)
			warnings = append(warnings, validity(names[2], r, now)...)
		}
		c.RootCerts, c.RootsPEM = certs, rootsPEM
	}
	if crlPEM != nil {
		der := crlPEM
		if b, _ := pem.Decode(crlPEM); b != nil {
			der = b.Bytes
		}
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: not a valid CRL: %v", names[3], err)
		}
		c.CRL, c.CRLPEM = crl, crlPEM
	}
	return c, warnings, nil
}

// parseCerts parses every CERTIFICATE block, rejecting other block types and trailing garbage.
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for i := 0; ; i++ {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is %q, want CERTIFICATE", i+1, b.Type)
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", i+1, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, fmt.Errorf("unparsable data after certificate %d", len(certs))
	}
	return certs, nil
}

// checkChainOrder requires each certificate to be signed by the next, leaf first, as TLS sends
// them; a chain out of order makes strict clients fail the handshake.
func checkChainOrder(chain []*x509.Certificate) error {
	for i := 0; i+1 < len(chain); i++ {
		if err := chain[i].CheckSignatureFrom(chain[i+1]); err != nil {
			return fmt.Errorf("chain out of order: certificate %d (%s) is not signed by certificate %d (%s)",
				i+1, chain[i].Subject, i+2, chain[i+1].Subject)
		}
	}
	return nil
}

// keyError describes a key problem without quoting the key.
func keyError(err error) string {
	switch msg := err.Error(); {
	case bytes.Contains([]byte(msg), []byte("does not match")):
		return "private key does not match the certificate"
	case bytes.Contains([]byte(msg), []byte("failed to find")):
		return "no PEM private key found"
	default:
		return "cannot parse the private key"
	}
}

func validity(what string, c *x509.Certificate, now time.Time) []string {
	switch {
	case now.After(c.NotAfter):
		return []string{fmt.Sprintf("%s: certificate %s expired at %s", what, c.Subject, c.NotAfter.UTC().Format(time.RFC3339))}
	case now.Before(c.NotBefore):
		return []string{fmt.Sprintf("%s: certificate %s is not valid before %s", what, c.Subject, c.NotBefore.UTC().Format(time.RFC3339))}
	}
	return nil
}
