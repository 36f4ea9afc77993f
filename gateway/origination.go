package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"

	"github.com/gatehouse-dev/gatehouse/sds"
)

// UpstreamTLS is a DestinationRule tls (SIMPLE, MUTUAL or ISTIO_MUTUAL) after merging, or auto
// mTLS: how the gateway originates TLS to a cluster.
type UpstreamTLS struct {
	Mode string `yaml:"mode"`
	// CredentialName names a Secret in the gateway's namespace (Namespace) with the client
	// certificate (MUTUAL) and the CA (ca.crt/cacert, or the <name>-cacert Secret).
	CredentialName    string `yaml:"credentialName,omitempty"`
	Namespace         string `yaml:"namespace,omitempty"`
	CACertificates    string `yaml:"caCertificates,omitempty"`
	ClientCertificate string `yaml:"clientCertificate,omitempty"`
	PrivateKey        string `yaml:"privateKey,omitempty"`
	// SNI is tls.sni, else the destination host (as Istio's auto SNI sends the host).
	SNI             string   `yaml:"sni"`
	SubjectAltNames []string `yaml:"subjectAltNames,omitempty"`
	// InsecureSkipVerify skips verifying the server; without a CA the system roots verify it.
	InsecureSkipVerify bool `yaml:"insecureSkipVerify,omitempty"`
	// ALPN is what the gateway offers: h2 only when the port protocol says HTTP/2.
	ALPN []string `yaml:"alpn"`
	// Auto is ISTIO_MUTUAL chosen by auto mTLS: it applies only to the endpoints labelled
	// security.istio.io/tlsMode: istio; the others get plaintext.
	Auto bool `yaml:"auto,omitempty"`
}

// tlsDialer dials a cluster's endpoints with TLS, reading its credentials at every dial so that
// a rotated certificate or CA is used by the next connection.
type tlsDialer struct {
	tls   *UpstreamTLS
	store *sds.Store // nil: no credentials, so credentialName fails the dial
	dial  func(ctx context.Context, network, addr string) (net.Conn, error)
}

func (d *tlsDialer) DialTLSContext(ctx context.Context, network, addr string) (net.Conn, error) {
	cfg, err := d.clientConfig(ctx, addr)
	if err != nil {
		return nil, err
	}
	raw, err := d.dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return clientHandshake(ctx, raw, cfg)
}

// clientConfig is the TLS of one connection to addr (host:port), read before dialing so that a
// missing credential costs no connection.
func (d *tlsDialer) clientConfig(ctx context.Context, addr string) (*tls.Config, error) {
	cfg, err := d.config(ctx)
	if err != nil {
		return nil, &originationError{err: err}
	}
	if cfg.ServerName == "" {
		// A dynamic forward cluster's: the name dialed (Envoy's auto_sni).
		cfg.ServerName, _, _ = net.SplitHostPort(addr)
	}
	return cfg, nil
}

// clientHandshake starts TLS on raw, and closes raw when the handshake fails.
func clientHandshake(ctx context.Context, raw net.Conn, cfg *tls.Config) (net.Conn, error) {
	c := tls.Client(raw, cfg)
	if err := c.HandshakeContext(ctx); err != nil {
		_ = raw.Close()
		return nil, &originationError{err: err}
	}
	return c, nil
}

// originationError is a failed TLS origination: Envoy answers 503 with reset reason
// connection failure, and the log says why.
type originationError struct{ err error }

func (e *originationError) Error() string { return "upstream TLS: " + e.err.Error() }
func (e *originationError) Unwrap() error { return e.err }

func (d *tlsDialer) config(ctx context.Context) (*tls.Config, error) {
	t := d.tls
	cfg := &tls.Config{ServerName: t.SNI, NextProtos: t.ALPN, MinVersion: tls.VersionTLS12}
	if t.Mode == modeIstioMutual {
		return d.istioMutualConfig(cfg)
	}
	var roots *x509.CertPool
	if t.CredentialName != "" {
		store := d.store
		if store == nil {
			return nil, fmt.Errorf("credentialName %q: %w", t.CredentialName, errNoCredentials)
		}
		// A DestinationRule's credentialName is a Secret, as Istio reads it (kubernetes://<name>):
		// "default" is a Secret of that name here, not the workload's own certificate.
		cred, ok := store.Resolve(t.Namespace, kubernetesResource(t.CredentialName))
		if !ok {
			return nil, &missingCredentialError{resource: t.CredentialName, what: "upstream TLS credential"}
		}
		if t.Mode == "MUTUAL" {
			if cred.Certificate == nil {
				return nil, &missingCredentialError{resource: t.CredentialName, what: "client certificate"}
			}
			cfg.Certificates = []tls.Certificate{*cred.Certificate}
		}
		roots = cred.Roots
		if roots == nil {
			if ca, ok := store.Resolve(t.Namespace, kubernetesResource(t.CredentialName+sds.CACertSuffix)); ok {
				roots = ca.Roots
			}
		}
	}
	if t.Mode == "MUTUAL" && t.CredentialName == "" {
		cert, err := tls.LoadX509KeyPair(t.ClientCertificate, t.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("clientCertificate/privateKey: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if roots == nil && t.CACertificates != "" {
		pem, err := os.ReadFile(t.CACertificates)
		if err != nil {
			return nil, fmt.Errorf("caCertificates: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("caCertificates %s: no PEM certificate", t.CACertificates)
		}
	}
	switch {
	case t.InsecureSkipVerify:
		cfg.InsecureSkipVerify = true
	case len(t.SubjectAltNames) > 0:
		// The SANs replace the SNI as what the certificate must name.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = verifySANs(roots, t.SubjectAltNames)
	default:
		cfg.RootCAs = roots
	}
	return cfg, nil
}

// verifySANs verifies the server chain against roots (system roots when nil) and requires one
// of the subjectAltNames among the leaf's DNS names, IPs or URIs.
func verifySANs(roots *x509.CertPool, sans []string) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		leaf, err := verifyChain(cs, roots, nil)
		if err != nil {
			return err
		}
		names := slices.Clone(leaf.DNSNames)
		for _, ip := range leaf.IPAddresses {
			names = append(names, ip.String())
		}
		for _, u := range leaf.URIs {
			names = append(names, u.String())
		}
		for _, want := range sans {
			if slices.Contains(names, want) {
				return nil
			}
		}
		return fmt.Errorf("server certificate names none of subjectAltNames %v", sans)
	}
}

// verifyChain verifies the server's chain against roots (system roots when nil) for usages
// (server auth when nil) and returns its leaf.
func verifyChain(cs tls.ConnectionState, roots *x509.CertPool, usages []x509.ExtKeyUsage) (*x509.Certificate, error) {
	if len(cs.PeerCertificates) == 0 {
		return nil, errors.New("server sent no certificate")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: usages}); err != nil {
		return nil, err
	}
	return leaf, nil
}
