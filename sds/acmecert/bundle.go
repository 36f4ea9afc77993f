package acmecert

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"
)

// bundle is a certificate as the Cache and the store hold it: PEM key and PEM chain, leaf first.
type bundle struct {
	keyPEM, chainPEM []byte
	leaf             *x509.Certificate
}

// cacheBytes is the Cache form: the key, then the chain (the layout autocert uses too).
func (b *bundle) cacheBytes() []byte {
	return append(append([]byte{}, b.keyPEM...), b.chainPEM...)
}

// secretData is the store item: kubernetes.io/tls layout, as a Gateway's credentialName Secret.
func (b *bundle) secretData() map[string][]byte {
	return map[string][]byte{"tls.crt": b.chainPEM, "tls.key": b.keyPEM}
}

func (b *bundle) renewAt() time.Time { return renewAt(b.leaf.NotBefore, b.leaf.NotAfter) }

// parseKeyAndChain splits the Cache form into key and chain and parses the leaf. It does not
// check the key matches: tls.X509KeyPair does, where it matters.
func parseKeyAndChain(raw []byte) (*bundle, error) {
	b := &bundle{}
	for {
		var block *pem.Block
		block, raw = pem.Decode(raw)
		if block == nil {
			break
		}
		switch block.Type {
		case "CERTIFICATE":
			if b.leaf == nil {
				leaf, err := x509.ParseCertificate(block.Bytes)
				if err != nil {
					return nil, fmt.Errorf("leaf certificate: %w", err)
				}
				b.leaf = leaf
			}
			b.chainPEM = append(b.chainPEM, pem.EncodeToMemory(block)...)
		case "PRIVATE KEY", "EC PRIVATE KEY":
			b.keyPEM = pem.EncodeToMemory(block)
		}
	}
	if b.leaf == nil || b.keyPEM == nil {
		return nil, errors.New("want a private key and a certificate chain")
	}
	return b, nil
}

// usableFor reports why b cannot serve hosts at now, nil when it can: it must name exactly
// hosts (a cached certificate from before a hosts edit does not) and be unexpired.
func (b *bundle) usableFor(hosts []string, now time.Time) error {
	if !sameNames(b.leaf.DNSNames, hosts) {
		return fmt.Errorf("certificate names %v, want %v", b.leaf.DNSNames, hosts)
	}
	if !now.Before(b.leaf.NotAfter) {
		return fmt.Errorf("certificate expired at %s", b.leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

func sameNames(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
