package workload

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	securityapi "istio.io/api/security/v1alpha1"
)

// RemoteOptions configure a Remote signer.
type RemoteOptions struct {
	// Roots verify the CA's serving certificate. Required: the CA is never trusted blind.
	Roots *x509.CertPool
	// ServerName is the name expected in the CA's certificate; empty is the host of addr.
	ServerName string
	// Token returns the bootstrap token, sent as "authorization: Bearer <token>" when there is no
	// valid certificate to renew with. Nil or "": none.
	Token func() string
	// Current returns the certificate to present as the client certificate when renewing
	// (Manager.Current); nil or an expired one: the token is used instead.
	Current func() *tls.Certificate
	// Now is the clock that decides whether Current is still valid; nil is time.Now.
	Now func() time.Time
}

// Remote obtains certificates from a CA's IstioCertificateService
// (istio.v1.auth.IstioCertificateService/CreateCertificate) at addr over TLS, as istio-agent
// does from istiod on port 15012.
//
// Each call dials its own connection: calls come once per half certificate lifetime, and a fresh
// handshake is the simple way to present the certificate in force at that moment.
func Remote(addr string, o RemoteOptions) Signer {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &remoteSigner{addr: addr, o: o}
}

type remoteSigner struct {
	addr string
	o    RemoteOptions
}

func (r *remoteSigner) CreateCertificate(ctx context.Context, csrPEM []byte, ttl time.Duration) ([]string, error) {
	if r.o.Roots == nil {
		return nil, fmt.Errorf("CA %s: no roots to verify it with", r.addr)
	}
	cfg := &tls.Config{RootCAs: r.o.Roots, ServerName: r.o.ServerName, MinVersion: tls.VersionTLS12}
	if cert := r.renewWith(); cert != nil {
		// Renewal: the certificate proves the identity. The token, possibly one-time, is kept
		// for when there is no valid certificate.
		cfg.Certificates = []tls.Certificate{*cert}
	} else if r.o.Token != nil {
		if tok := r.o.Token(); tok != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
		}
	}
	conn, err := grpc.NewClient(r.addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		return nil, fmt.Errorf("CA %s: %w", r.addr, err)
	}
	defer conn.Close()
	resp, err := securityapi.NewIstioCertificateServiceClient(conn).CreateCertificate(ctx, &securityapi.IstioCertificateRequest{
		Csr:              string(csrPEM),
		ValidityDuration: int64(ttl / time.Second),
	})
	if err != nil {
		return nil, fmt.Errorf("CA %s: %w", r.addr, err)
	}
	if len(resp.GetCertChain()) == 0 {
		return nil, fmt.Errorf("CA %s: %w", r.addr, errors.New("empty cert_chain"))
	}
	return resp.GetCertChain(), nil
}

// renewWith is the certificate to present, nil when there is none valid now: the CA would refuse
// an expired one, and a workload whose certificate lapsed during an outage must get back in
// with its token.
func (r *remoteSigner) renewWith() *tls.Certificate {
	if r.o.Current == nil {
		return nil
	}
	cert := r.o.Current()
	if cert == nil || cert.Leaf == nil {
		return nil
	}
	now := r.o.Now()
	if now.Before(cert.Leaf.NotBefore) || !now.Before(cert.Leaf.NotAfter) {
		return nil
	}
	return cert
}
