package acmecert

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	"golang.org/x/crypto/acme"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// acmeChallengeTypes maps the spec's challenge names to RFC 8555's "type" values.
var acmeChallengeTypes = map[string]string{
	policy.ACMEChallengeTLSALPN01: "tls-alpn-01",
	policy.ACMEChallengeHTTP01:    "http-01",
}

// order obtains one certificate naming exactly is.Spec.Hosts: one order for all of them,
// each authorization answered with the first allowed challenge the CA offers, then a CSR for
// a fresh ECDSA P-256 key.
func (m *Manager) order(ctx context.Context, client *acme.Client, is *Issuer) (*bundle, error) {
	hosts := is.Spec.Hosts
	o, err := client.AuthorizeOrder(ctx, acme.DomainIDs(hosts...))
	if err != nil {
		return nil, fmt.Errorf("new order: %w", err)
	}
	// Answer every authorization before waiting for any, so the CA validates them side by side:
	// with up to 100 names, one after the other would take minutes.
	var pending []*pendingAuthz
	defer func() {
		for _, p := range pending {
			p.cleanup()
		}
	}()
	for _, u := range o.AuthzURLs {
		p, err := m.answer(ctx, client, is, u)
		if err != nil {
			return nil, err
		}
		if p != nil {
			pending = append(pending, p)
		}
	}
	for len(pending) > 0 {
		p := pending[0]
		_, err := client.WaitAuthorization(ctx, p.uri)
		p.cleanup()
		pending = pending[1:]
		if err != nil {
			return nil, fmt.Errorf("%s for %s: %w", p.typ, p.host, err)
		}
	}
	orderURL := o.URI
	if o, err = client.WaitOrder(ctx, orderURL); err != nil {
		return nil, fmt.Errorf("order %s: %w", orderURL, err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: hosts}, key)
	if err != nil {
		return nil, fmt.Errorf("csr: %w", err)
	}
	// CreateCertFromOrder, not CreateOrderCert: Pebble (and RFC 8555 §7.4) answers finalize with
	// the order, status "processing", without a Location header; only the order URL we hold
	// lets the client wait for it to become valid and fetch the certificate.
	chain, _, err := client.CreateCertFromOrder(ctx, o, csr, true)
	if err != nil {
		return nil, fmt.Errorf("finalize: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	b := &bundle{keyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})}
	for _, der := range chain {
		b.chainPEM = append(b.chainPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("finalize: the CA returned no certificate")
	}
	if b.leaf, err = x509.ParseCertificate(chain[0]); err != nil {
		return nil, fmt.Errorf("issued certificate: %w", err)
	}
	// The CA decides what it signs; serve only what was asked for.
	if !sameNames(b.leaf.DNSNames, hosts) {
		return nil, fmt.Errorf("issued certificate names %v, want %v", b.leaf.DNSNames, hosts)
	}
	if pub, ok := b.leaf.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		return nil, fmt.Errorf("issued certificate is not for the key in the CSR")
	}
	return b, nil
}

// pendingAuthz is an authorization whose challenge was accepted; cleanup forgets the answer.
type pendingAuthz struct {
	uri, host, typ string
	cleanup        func()
}

// answer makes the answer to one authorization's challenge available and tells the CA to
// validate it; nil when the authorization is valid already.
func (m *Manager) answer(ctx context.Context, client *acme.Client, is *Issuer, url string) (*pendingAuthz, error) {
	z, err := client.GetAuthorization(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("authorization %s: %w", url, err)
	}
	if z.Status == acme.StatusValid {
		return nil, nil
	}
	host := z.Identifier.Value
	if z.Identifier.Type != "dns" || !containsFold(is.Spec.Hosts, host) {
		return nil, fmt.Errorf("authorization %s is for %s %q, not one of the issuer's hosts", url, z.Identifier.Type, host)
	}
	chal := pickChallenge(z.Challenges, is.Spec.Challenges)
	if chal == nil {
		return nil, fmt.Errorf("authorization for %s: %w %v", host, errNoChallenge, is.Spec.Challenges)
	}
	p := &pendingAuthz{uri: z.URI, host: host, typ: chal.Type}
	switch chal.Type {
	case "http-01":
		answer, err := client.HTTP01ChallengeResponse(chal.Token)
		if err != nil {
			return nil, err
		}
		p.cleanup = func() { m.challenges.removeHTTP(chal.Token) }
		err = m.challenges.addHTTP(ctx, chal.Token, answer)
		if err != nil {
			p.cleanup()
			return nil, fmt.Errorf("http-01 for %s: %w", host, err)
		}
	case "tls-alpn-01":
		cert, err := client.TLSALPN01ChallengeCert(chal.Token, host)
		if err != nil {
			return nil, err
		}
		p.cleanup = func() { m.challenges.removeTLSALPN(host) }
		err = m.challenges.addTLSALPN(ctx, host, cert)
		if err != nil {
			p.cleanup()
			return nil, fmt.Errorf("tls-alpn-01 for %s: %w", host, err)
		}
	}
	if _, err := client.Accept(ctx, chal); err != nil {
		p.cleanup()
		return nil, fmt.Errorf("%s for %s: accept: %w", chal.Type, host, err)
	}
	return p, nil
}

// pickChallenge returns the first of the allowed types (spec names) the CA offers.
func pickChallenge(offered []*acme.Challenge, allowed []string) *acme.Challenge {
	for _, a := range allowed {
		want := acmeChallengeTypes[a]
		for _, c := range offered {
			if c.Type == want {
				return c
			}
		}
	}
	return nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
