package workload

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"
)

// newKey mints the workload key and its CSR. The CSR asks for the SPIFFE ID when one is known
// (as istio-agent's does) and for nothing otherwise: the CA takes the identity from how the
// caller authenticated and ignores what a CSR asks for.
func newKey(spiffeID string) (keyPEM, csrPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate ECDSA P-256 key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode private key: %w", err)
	}
	tmpl := &x509.CertificateRequest{}
	if u, perr := url.Parse(spiffeID); spiffeID != "" && perr == nil {
		tmpl.URIs = []*url.URL{u}
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create CSR: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}), nil
}

// splitChain turns a CA's cert_chain (leaf first, root last; an element may hold several PEM
// blocks) into what Istio's agent serves: the leaf and intermediates as the workload's chain,
// and the last certificate as the root of trust.
func splitChain(chain []string) (certsPEM, rootPEM []byte, err error) {
	var blocks [][]byte
	for i, s := range chain {
		rest := []byte(s)
		found := false
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				return nil, nil, fmt.Errorf("cert_chain[%d]: PEM block %q, want CERTIFICATE", i, b.Type)
			}
			blocks = append(blocks, pem.EncodeToMemory(b))
			found = true
		}
		if !found || strings.TrimSpace(string(rest)) != "" {
			return nil, nil, fmt.Errorf("cert_chain[%d]: not a PEM certificate", i)
		}
	}
	if len(blocks) < 2 {
		return nil, nil, fmt.Errorf("cert_chain: %d certificate(s), want the leaf and at least the root", len(blocks))
	}
	for _, b := range blocks[:len(blocks)-1] {
		certsPEM = append(certsPEM, b...)
	}
	return certsPEM, blocks[len(blocks)-1], nil
}

// mergeRoots is the trust bundle to serve as ROOTCA: the chain's root, then every other root of
// bundle (a Signer's whole trust bundle, nil when it has none), each once.
func mergeRoots(root, bundle []byte) []byte {
	out := append([]byte(nil), root...)
	seen := map[string]bool{}
	if b, _ := pem.Decode(root); b != nil {
		seen[string(b.Bytes)] = true
	}
	for rest := bundle; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return out
		}
		if b.Type != "CERTIFICATE" || seen[string(b.Bytes)] {
			continue
		}
		seen[string(b.Bytes)] = true
		out = append(out, pem.EncodeToMemory(b)...)
	}
}
