package sds

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

// secretResource is one Envoy Secret as the server hands it out, with the version that tells
// clients whether they already have it.
type secretResource struct {
	secret *tlsv3.Secret
	// version is a digest of the certificates it carries. It is derived from public data only
	// (a new key always comes with a new certificate), so it is stable across server restarts,
	// which a reconnecting delta client relies on, and never reveals key material.
	version string
}

// newSecretResource turns a credential into the Envoy Secret named as the proxy asked for it,
// in the shape istiod gives gateways: a credential with a certificate becomes a TlsCertificate
// (its CA, if any, is served separately under "<name>-cacert"); a trust-only credential becomes
// a ValidationContext with its CRL.
func newSecretResource(name string, c *Credential) (*secretResource, error) {
	h := sha256.New()
	s := &tlsv3.Secret{Name: name}
	if c.Certificate != nil {
		h.Write([]byte("cert\x00"))
		h.Write(c.ChainPEM)
		s.Type = &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
			CertificateChain: inlineBytes(c.ChainPEM),
			PrivateKey:       inlineBytes(c.KeyPEM),
		}}
	} else {
		h.Write([]byte("roots\x00"))
		h.Write(c.RootsPEM)
		h.Write([]byte{0})
		h.Write(c.CRLPEM)
		vc := &tlsv3.CertificateValidationContext{TrustedCa: inlineBytes(c.RootsPEM)}
		if len(c.CRLPEM) > 0 {
			vc.Crl = inlineBytes(c.CRLPEM)
		}
		s.Type = &tlsv3.Secret_ValidationContext{ValidationContext: vc}
	}
	if err := s.ValidateAll(); err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	return &secretResource{secret: s, version: hex.EncodeToString(h.Sum(nil)[:12])}, nil
}

func inlineBytes(b []byte) *core.DataSource {
	return &core.DataSource{Specifier: &core.DataSource_InlineBytes{InlineBytes: b}}
}
