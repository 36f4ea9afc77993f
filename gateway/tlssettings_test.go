package gateway

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestServerTLSSettings covers credentialNames (RSA and ECDSA), protocol versions and cipher
// suites on one port.
func TestServerTLSSettings(t *testing.T) {
	t.Parallel()
	web := backend(t, "web")
	ca := newAuthority(t, "server CA")
	rsaCert := ca.issue(t, leafSpec{cn: "rsa", dns: []string{"dual.example.com"}, rsa: true})
	ecCert := ca.issue(t, leafSpec{cn: "ecdsa", dns: []string{"dual.example.com"}})
	oldCert := ca.issue(t, leafSpec{cn: "old", dns: []string{"old.example.com", "modern.example.com"}})
	s := newSecrets()
	s.put("dual-rsa", "tls.crt", rsaCert.certPEM, "tls.key", rsaCert.keyPEM)
	s.put("dual-ecdsa", "tls.crt", ecCert.certPEM, "tls.key", ecCert.keyPEM)
	s.put("old", "tls.crt", oldCert.certPEM, "tls.key", oldCert.keyPEM)
	g := startTLSGateway(t, s, snapshot(t, 1,
		tlsGatewayDoc(`  - port: {number: 443, name: dual, protocol: HTTPS}
    hosts: [dual.example.com]
    tls: {mode: SIMPLE, credentialNames: [dual-rsa, dual-ecdsa]}
  - port: {number: 443, name: modern, protocol: HTTPS}
    hosts: [modern.example.com]
    tls: {mode: SIMPLE, credentialName: old, minProtocolVersion: TLSV1_3}
  - port: {number: 443, name: old, protocol: HTTPS}
    hosts: [old.example.com]
    tls: {mode: SIMPLE, credentialName: old, maxProtocolVersion: TLSV1_2, cipherSuites: [ECDHE-ECDSA-AES256-GCM-SHA384]}
`), staticEntry("web", "web.internal", port(t, web)), routeAll("web", "web.internal")))
	addr := g.addr(t, 443)

	tests := []struct {
		name        string
		cfg         *tls.Config
		wantKey     string // "ecdsa" or "rsa"
		wantVersion uint16
		wantCipher  uint16
		wantReason  string // a handshake failure
	}{
		{name: "ECDSA for clients that take it", cfg: &tls.Config{ServerName: "dual.example.com"}, wantKey: "ecdsa", wantVersion: tls.VersionTLS13},
		{name: "RSA for RSA-only clients", cfg: &tls.Config{ServerName: "dual.example.com", MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}, wantKey: "rsa", wantVersion: tls.VersionTLS12},
		{name: "minProtocolVersion refuses TLS 1.2", cfg: &tls.Config{ServerName: "modern.example.com", MaxVersion: tls.VersionTLS12}, wantReason: reasonProtocolVersion},
		{name: "maxProtocolVersion caps at TLS 1.2", cfg: &tls.Config{ServerName: "old.example.com"}, wantKey: "ecdsa", wantVersion: tls.VersionTLS12, wantCipher: tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384},
		{name: "cipherSuites refuse others", cfg: &tls.Config{ServerName: "old.example.com", CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, wantReason: reasonCipher},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.RootCAs = ca.pool()
			before := testutil.ToFloat64(g.metrics.handshakeErrors.WithLabelValues(tt.wantReason))
			cs, status, err := handshake(t, addr, tt.cfg)
			if tt.wantReason != "" {
				if err == nil {
					t.Fatalf("handshake succeeded (%q), want %s", status, tt.wantReason)
				}
				eventually(t, tt.wantReason+" counted", func() bool {
					return testutil.ToFloat64(g.metrics.handshakeErrors.WithLabelValues(tt.wantReason)) > before
				})
				return
			}
			if err != nil || !strings.Contains(status, "200") {
				t.Fatalf("%q, %v", status, err)
			}
			key := "unknown"
			switch cs.PeerCertificates[0].PublicKey.(type) {
			case *rsa.PublicKey:
				key = "rsa"
			case *ecdsa.PublicKey:
				key = "ecdsa"
			}
			if key != tt.wantKey {
				t.Errorf("served a %s certificate, want %s", key, tt.wantKey)
			}
			if cs.Version != tt.wantVersion {
				t.Errorf("version %x, want %x", cs.Version, tt.wantVersion)
			}
			if tt.wantCipher != 0 && cs.CipherSuite != tt.wantCipher {
				t.Errorf("cipher %s, want %s", tls.CipherSuiteName(cs.CipherSuite), tls.CipherSuiteName(tt.wantCipher))
			}
		})
	}
}
