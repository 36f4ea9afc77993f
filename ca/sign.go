package ca

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"time"
)

// clockSkew backdates NotBefore, as istiod does, so a peer whose clock is slightly behind
// accepts a certificate issued a moment ago.
const clockSkew = time.Minute

// ErrBadCSR marks a CSR that cannot be signed (malformed, bad signature, weak key): the
// caller's fault, not the CA's.
var ErrBadCSR = errors.New("invalid certificate signing request")

// Sign issues a leaf certificate for id and returns the chain, PEM, leaf first and root last,
// as istiod returns cert_chain.
//
// The CSR proves possession of the key and nothing else: every name it asks for is ignored.
// The leaf carries exactly one URI SAN, id.SPIFFE() in the primary trust domain, and an empty
// subject. ttl <= 0 means the default; it is clamped to the maximum, and the leaf never
// outlives any certificate of its chain.
func (a *Authority) Sign(csrPEM []byte, id Identity, ttl time.Duration) ([]string, error) {
	pub, err := csrPublicKey(csrPEM)
	if err != nil {
		return nil, err
	}
	id.TrustDomain = a.opts.TrustDomain
	if err := validSegment(id.Namespace); err != nil {
		return nil, fmt.Errorf("sign %s: namespace: %w", id, err)
	}
	if err := validSegment(id.ServiceAccount); err != nil {
		return nil, fmt.Errorf("sign %s: service account: %w", id, err)
	}
	s := a.cur.Load()
	notBefore, notAfter, err := a.validity(s, ttl)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", id, err)
	}
	tmpl := &x509.Certificate{
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs: []*url.URL{{
			Scheme: "spiffe",
			Host:   id.TrustDomain,
			Path:   "/ns/" + id.Namespace + "/sa/" + id.ServiceAccount,
		}},
		BasicConstraintsValid: true,
	}
	der, err := s.issue(tmpl, pub)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", id, err)
	}
	out := make([]string, 0, 1+len(s.chainPEM))
	out = append(out, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	return append(out, s.chainPEM...), nil
}

// validity returns the leaf's NotBefore and NotAfter for a requested ttl under s.
func (a *Authority) validity(s *signer, ttl time.Duration) (time.Time, time.Time, error) {
	ttls := a.ttls.Load()
	if ttl <= 0 {
		ttl = ttls[0]
	}
	ttl = min(ttl, ttls[1])
	now := a.now()
	notAfter := now.Add(ttl)
	if s.notAfter.Before(notAfter) {
		notAfter = s.notAfter
	}
	if !notAfter.After(now) {
		return time.Time{}, time.Time{}, fmt.Errorf("the CA chain expired at %s", s.notAfter.UTC().Format(time.RFC3339))
	}
	return now.Add(-clockSkew), notAfter, nil
}

// issue signs tmpl for pub with a fresh serial and returns the certificate DER. The
// AuthorityKeyId comes from the signing certificate's SubjectKeyId.
func (s *signer) issue(tmpl *x509.Certificate, pub any) ([]byte, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	return x509.CreateCertificate(rand.Reader, tmpl, s.cert, pub, s.key)
}

// randomSerial returns a positive 128-bit random serial (RFC 5280 allows up to 20 octets;
// CA/B Forum asks for at least 64 random bits).
func randomSerial() (*big.Int, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	b[0] &= 0x7f // keep the DER INTEGER at 16 octets and positive
	b[0] |= 0x40 // and never short: a fixed-length serial
	return new(big.Int).SetBytes(b[:]), nil
}

// csrPublicKey decodes a PEM CSR, checks its self-signature (proof of possession) and
// returns its public key if it is strong enough to carry a mesh identity.
func csrPublicKey(csrPEM []byte) (any, error) {
	b, _ := pem.Decode(csrPEM)
	if b == nil || b.Type != "CERTIFICATE REQUEST" && b.Type != "NEW CERTIFICATE REQUEST" {
		return nil, fmt.Errorf("%w: no PEM CERTIFICATE REQUEST block", ErrBadCSR)
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCSR, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrBadCSR, err)
	}
	switch k := csr.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() && k.Curve != elliptic.P521() {
			return nil, fmt.Errorf("%w: unsupported curve %s", ErrBadCSR, k.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("%w: RSA key of %d bits, want at least 2048", ErrBadCSR, k.N.BitLen())
		}
	case ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("%w: unsupported key type %T", ErrBadCSR, k)
	}
	return csr.PublicKey, nil
}
