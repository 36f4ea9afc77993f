package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// TLSConfig serves a certificate issued by the CA itself (renewed once half its life is gone,
// or when the CA changes) and requests client certificates, verifying them against the
// current trust bundle when given: a workload renewing presents its certificate, a workload
// bootstrapping has none yet and uses a token.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2"},
		// Per handshake, so a reloaded bundle applies to the next connection.
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return &tls.Config{
				MinVersion:     tls.VersionTLS12,
				NextProtos:     []string{"h2"},
				ClientAuth:     tls.VerifyClientCertIfGiven,
				ClientCAs:      s.a.Roots(),
				GetCertificate: s.serving.get,
			}, nil
		},
	}
}

// servingCert is the CA's own server certificate.
type servingCert struct {
	a     *Authority
	dns   []string
	ips   []net.IP
	log   *slog.Logger
	mu    sync.Mutex // one renewal at a time
	state atomic.Pointer[servingState]
}

type servingState struct {
	cert    *tls.Certificate
	renewAt time.Time
	changed <-chan struct{} // the CA generation it was issued under
}

func newServingCert(a *Authority, names []string, log *slog.Logger) *servingCert {
	c := &servingCert{a: a, log: log}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			c.ips = append(c.ips, ip)
		} else {
			c.dns = append(c.dns, n)
		}
	}
	return c
}

func (st *servingState) fresh(now time.Time) bool {
	if st == nil || !now.Before(st.renewAt) {
		return false
	}
	select {
	case <-st.changed:
		return false
	default:
		return true
	}
}

// get returns the serving certificate, renewing it first if needed. If renewal fails while
// the old certificate is still valid, the old one keeps serving.
func (c *servingCert) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	now := c.a.now()
	if st := c.state.Load(); st.fresh(now) {
		return st.cert, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.state.Load()
	if st.fresh(now) {
		return st.cert, nil
	}
	next, err := c.issue()
	if err != nil {
		if st != nil && now.Before(st.cert.Leaf.NotAfter) {
			c.log.Error("renewing the CA serving certificate failed; the current one keeps serving", "error", err)
			return st.cert, nil
		}
		return nil, fmt.Errorf("ca: serving certificate: %w", err)
	}
	c.state.Store(next)
	c.log.Info("CA serving certificate issued", "dns", c.dns, "ips", c.ips, "notAfter", next.cert.Leaf.NotAfter)
	return next.cert, nil
}

func (c *servingCert) issue() (*servingState, error) {
	changed := c.a.Changed() // before Load: a swap in between makes this state stale, not wrong
	s := c.a.cur.Load()
	notBefore, notAfter, err := c.a.validity(s, c.a.opts.DefaultTTL)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:              c.dns,
		IPAddresses:           c.ips,
		BasicConstraintsValid: true,
	}
	if len(c.dns) > 0 {
		tmpl.Subject = pkix.Name{CommonName: c.dns[0]}
	}
	der, err := s.issue(tmpl, key.Public())
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	cert := &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	// The chain up to, not including, the root: peers hold the root already.
	for _, c := range s.chain[:len(s.chain)-1] {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	// Renew at half the life actually granted (the chain may have cut it short), measured
	// from issuance rather than the backdated NotBefore.
	issued := notBefore.Add(clockSkew)
	return &servingState{cert: cert, renewAt: issued.Add(notAfter.Sub(issued) / 2), changed: changed}, nil
}
