package gateway

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strings"
	"time"
)

// clientVerifier applies what Envoy's certificate validation context adds to chain verification:
// subjectAltNames, certificate pins and the CA's revocation list. It runs on every handshake,
// resumed ones included, after crypto/tls has verified the chain against the client CA.
type clientVerifier struct {
	sans       []string
	spki, hash map[[sha256.Size]byte]bool
	crl        *x509.RevocationList
	revoked    map[string]bool // serial numbers (hex) the CRL lists
	now        func() time.Time
}

// badClientCertError is a client certificate the settings refuse (the handshake fails with
// bad_certificate); it never contains more than the subject and the reason.
type badClientCertError struct{ reason string }

func (e *badClientCertError) Error() string { return "client certificate refused: " + e.reason }

func newClientVerifier(t *ServerTLS, crl *x509.RevocationList) *clientVerifier {
	v := &clientVerifier{sans: t.SubjectAltNames, spki: t.spkiPins, hash: t.hashPins, crl: crl, now: time.Now}
	if crl != nil {
		v.revoked = map[string]bool{}
		for _, e := range crl.RevokedCertificateEntries {
			v.revoked[e.SerialNumber.Text(16)] = true
		}
	}
	return v
}

func (v *clientVerifier) verify(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		// OPTIONAL_MUTUAL without a certificate; MUTUAL has already refused it.
		return nil
	}
	leaf := cs.PeerCertificates[0]
	if len(v.sans) > 0 && !sanMatches(leaf, v.sans) {
		return &badClientCertError{reason: fmt.Sprintf("no subject alternative name of %s is allowed", leaf.Subject)}
	}
	if (len(v.spki) > 0 || len(v.hash) > 0) && !v.pinned(leaf) {
		return &badClientCertError{reason: fmt.Sprintf("%s matches no verifyCertificateSpki or verifyCertificateHash", leaf.Subject)}
	}
	if v.crl != nil {
		if err := v.checkRevocation(cs); err != nil {
			return err
		}
	}
	return nil
}

// pinned: matching either list is enough, as in Envoy.
func (v *clientVerifier) pinned(leaf *x509.Certificate) bool {
	return v.spki[sha256.Sum256(leaf.RawSubjectPublicKeyInfo)] || v.hash[sha256.Sum256(leaf.Raw)]
}

// checkRevocation follows OpenSSL's CRL check as Envoy configures it: the CRL must be the leaf
// issuer's, signed by it, and current; a certificate it lists is refused. Intermediates the CRL's
// issuer signed are checked too.
func (v *clientVerifier) checkRevocation(cs tls.ConnectionState) error {
	if len(cs.VerifiedChains) == 0 {
		return &badClientCertError{reason: "no verified chain to check revocation on"}
	}
	chain := cs.VerifiedChains[0]
	leaf := chain[0]
	if !bytes.Equal(v.crl.RawIssuer, leaf.RawIssuer) {
		return &badClientCertError{reason: fmt.Sprintf("the CRL is issued by %s, not by %s's issuer", v.crl.Issuer, leaf.Subject)}
	}
	if next := v.crl.NextUpdate; !next.IsZero() && v.now().After(next) {
		return &badClientCertError{reason: "the CRL expired at " + next.UTC().Format(time.RFC3339)}
	}
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		if !bytes.Equal(v.crl.RawIssuer, cert.RawIssuer) {
			continue
		}
		if err := v.crl.CheckSignatureFrom(issuer); err != nil {
			return &badClientCertError{reason: "the CRL is not signed by " + issuer.Subject.String()}
		}
		if v.revoked[serialHex(cert.SerialNumber)] {
			return &badClientCertError{reason: fmt.Sprintf("%s (serial %s) is revoked", cert.Subject, serialHex(cert.SerialNumber))}
		}
	}
	return nil
}

func serialHex(n *big.Int) string { return n.Text(16) }

// sanMatches compares the configured names exactly with the certificate's URI, email and IP
// SANs, and with its DNS SANs allowing a wildcard in the certificate ("*.example.com" covers
// "a.example.com"), as Envoy's match_subject_alt_names does.
func sanMatches(cert *x509.Certificate, allowed []string) bool {
	for _, want := range allowed {
		for _, u := range cert.URIs {
			if u.String() == want {
				return true
			}
		}
		if slices.Contains(cert.EmailAddresses, want) {
			return true
		}
		if ip := net.ParseIP(want); ip != nil && slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
			return true
		}
		for _, d := range cert.DNSNames {
			if dnsNameMatches(d, want) {
				return true
			}
		}
	}
	return false
}

// dnsNameMatches: a certificate name "*.example.com" covers exactly one label.
func dnsNameMatches(certName, want string) bool {
	certName, want = strings.ToLower(certName), strings.ToLower(want)
	if certName == want {
		return true
	}
	suffix, ok := strings.CutPrefix(certName, "*")
	if !ok || !strings.HasPrefix(suffix, ".") {
		return false
	}
	label, rest, found := strings.Cut(want, ".")
	return found && label != "" && "."+rest == suffix
}

// isBadClientCert reports whether a handshake failed on the client certificate.
func isBadClientCert(err error) bool {
	var bad *badClientCertError
	var verr *tls.CertificateVerificationError
	return errors.As(err, &bad) || errors.As(err, &verr)
}
