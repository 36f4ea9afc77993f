package gateway

import (
	"crypto/ecdsa"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse/sds"
)

// chainConfig is a filter chain's tls.Config for one credential store version and one session
// ticket epoch; either changing builds a new one at the next handshake.
type chainConfig struct {
	storeVersion uint64
	epoch        int64
	config       *tls.Config
	// certs are the serving certificates, preferred first.
	certs []*tls.Certificate
	err   error
}

// errNoCredentials is a handshake on a Gateway run without a credential store.
var errNoCredentials = errors.New("the gateway has no credential store")

// missingCredentialError is a handshake for which a named credential is not in the store.
type missingCredentialError struct{ resource, what string }

func (e *missingCredentialError) Error() string {
	msg := fmt.Sprintf("credential %s (%s) is not available", e.resource, e.what)
	if e.resource == meshCertificate || e.resource == meshRoots {
		msg += ": ISTIO_MUTUAL needs the gateway's mesh identity from the workload CA"
	}
	return msg
}

// tlsConfig returns the configuration for a handshake on fc, looked up in the credential store
// now: a rotated credential is in force for the next handshake, while connections already
// established keep what they negotiated.
func (g *Gateway) tlsConfig(fc *FilterChain, now time.Time) (*tls.Config, error) {
	store := g.opts.Credentials
	if store == nil {
		return nil, errNoCredentials
	}
	version, _ := store.Version()
	epoch := g.tickets.epoch(now)
	if cc := fc.config.Load(); cc != nil && cc.storeVersion == version && cc.epoch == epoch {
		return cc.config, cc.err
	}
	cfg, certs, err := g.buildTLSConfig(store, fc, epoch)
	if err != nil {
		// Once per chain and store version, not per handshake.
		g.log.Warn("gateway TLS server cannot complete handshakes", "server", fc.Server, "error", err)
	}
	fc.config.Store(&chainConfig{storeVersion: version, epoch: epoch, config: cfg, certs: certs, err: err})
	return cfg, err
}

func (g *Gateway) buildTLSConfig(store *sds.Store, fc *FilterChain, epoch int64) (*tls.Config, []*tls.Certificate, error) {
	t := fc.TLS
	var certs []*tls.Certificate
	for _, name := range t.Certificates {
		cred, ok := resolveCredential(store, t.Namespace, name)
		if !ok || cred.Certificate == nil {
			return nil, nil, &missingCredentialError{resource: name, what: "serving certificate"}
		}
		certs = append(certs, cred.Certificate)
	}
	// ECDSA first: cheaper handshakes for every client that supports it.
	slices.SortStableFunc(certs, func(a, b *tls.Certificate) int {
		_, ae := a.PrivateKey.(*ecdsa.PrivateKey)
		_, be := b.PrivateKey.(*ecdsa.PrivateKey)
		switch {
		case ae && !be:
			return -1
		case be && !ae:
			return 1
		}
		return 0
	})
	cfg := &tls.Config{
		MinVersion:     t.minVersion,
		MaxVersion:     t.maxVersion,
		CipherSuites:   t.cipherSuites,
		NextProtos:     t.ALPN,
		GetCertificate: certificateFor(certs),
	}
	scope := fc.id
	if t.mutual() {
		ca, ok := resolveCredential(store, t.Namespace, t.ClientCA)
		if !ok || ca.Roots == nil {
			return nil, nil, &missingCredentialError{resource: t.ClientCA, what: "client CA"}
		}
		cfg.ClientCAs = ca.Roots
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		if fc.Mode == modeOptionalMutual {
			cfg.ClientAuth = tls.VerifyClientCertIfGiven
		}
		cfg.VerifyConnection = newClientVerifier(t, ca.CRL).verify
		// A session resumed after the CA changed must not carry a client verified by the old one.
		scope += "|" + strconv.FormatUint(ca.Version, 10)
	}
	cfg.SetSessionTicketKeys(g.tickets.keys(epoch, scope))
	return cfg, certs, nil
}

// certificateFor picks, of the serving certificates, the first the client can use (by signature
// algorithms and curves), ignoring the name in the certificate: like Envoy, the gateway serves
// what the server is configured with whatever the SNI. The choice is recorded on the connection
// for x-forwarded-client-cert's By field.
func certificateFor(certs []*tls.Certificate) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		chosen := certs[0]
		if len(certs) > 1 {
			anyName := *hello
			anyName.ServerName = ""
			for _, c := range certs {
				if anyName.SupportsCertificate(c) == nil {
					chosen = c
					break
				}
			}
		}
		if dc, ok := hello.Conn.(*downstreamConn); ok {
			dc.local = chosen
		}
		return chosen, nil
	}
}
