package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"strings"
)

// Peer is the client of a mutual TLS connection whose certificate the gateway verified. The
// authorization engine reads it as Istio's source identity.
type Peer struct {
	// Certificate is the client's leaf certificate.
	Certificate *x509.Certificate
	// VerifiedChains are the chains crypto/tls built from it to the client CA.
	VerifiedChains [][]*x509.Certificate
	// URIs and DNSNames are the leaf's URI and DNS subject alternative names.
	URIs     []string
	DNSNames []string
	// Principal is Istio's source.principal: the first URI SAN without "spiffe://" (the SPIFFE
	// ID's trust domain and path), else the first DNS SAN, else the subject, in the order
	// Envoy's RBAC reads an authenticated principal.
	Principal string
	// ServerName is the SNI the client asked for.
	ServerName string
}

// PeerFrom returns the verified client certificate of the connection a request arrived on;
// ok=false for plaintext connections and TLS connections without a verified client certificate.
func PeerFrom(ctx context.Context) (*Peer, bool) {
	ci, _ := ctx.Value(connKey{}).(*connInfo)
	if ci == nil || ci.peer == nil {
		return nil, false
	}
	return ci.peer, true
}

func newPeer(cs tls.ConnectionState) *Peer {
	if len(cs.PeerCertificates) == 0 || len(cs.VerifiedChains) == 0 {
		return nil
	}
	leaf := cs.PeerCertificates[0]
	p := &Peer{Certificate: leaf, VerifiedChains: cs.VerifiedChains, DNSNames: leaf.DNSNames, ServerName: cs.ServerName}
	for _, u := range leaf.URIs {
		p.URIs = append(p.URIs, u.String())
	}
	switch {
	case len(p.URIs) > 0:
		p.Principal = strings.TrimPrefix(p.URIs[0], "spiffe://")
	case len(p.DNSNames) > 0:
		p.Principal = p.DNSNames[0]
	default:
		p.Principal = leaf.Subject.String()
	}
	return p
}
