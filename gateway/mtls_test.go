package gateway

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMutualTLS(t *testing.T) {
	t.Parallel()
	web := backend(t, "web")
	serverCA, clientCA, otherCA := newAuthority(t, "server CA"), newAuthority(t, "client CA"), newAuthority(t, "other CA")
	hosts := []string{"mtls.example.com", "sep.example.com", "san.example.com", "crl.example.com", "pin.example.com", "opt.example.com"}
	server := serverCA.issue(t, leafSpec{cn: "gateway", dns: hosts, uris: []string{"spiffe://cluster.local/ns/istio-system/sa/gateway"}})
	good := clientCA.issue(t, leafSpec{cn: "good", client: true, uris: []string{"spiffe://partner.example/ns/a/sa/good"}, dns: []string{"good.partner.example"}})
	other := clientCA.issue(t, leafSpec{cn: "other", client: true, uris: []string{"spiffe://partner.example/ns/a/sa/other"}})
	revoked := clientCA.issue(t, leafSpec{cn: "revoked", client: true})
	stranger := otherCA.issue(t, leafSpec{cn: "stranger", client: true, uris: []string{"spiffe://partner.example/ns/a/sa/good"}})
	goodHash := sha256.Sum256(good.cert.Raw)

	s := newSecrets()
	s.put("mtls-cert", "tls.crt", server.certPEM, "tls.key", server.keyPEM, "ca.crt", clientCA.pem)
	s.put("sep-cert", "cert", server.certPEM, "key", server.keyPEM)
	s.put("sep-cert-cacert", "cacert", clientCA.pem)
	s.put("crl-cert", "tls.crt", server.certPEM, "tls.key", server.keyPEM, "ca.crt", clientCA.pem, "ca.crl", clientCA.crl(t, revoked.cert))
	g := startTLSGateway(t, s, snapshot(t, 1,
		tlsGatewayDoc(`  - port: {number: 443, name: mtls, protocol: HTTPS}
    hosts: [mtls.example.com]
    tls: {mode: MUTUAL, credentialName: mtls-cert}
  - port: {number: 443, name: sep, protocol: HTTPS}
    hosts: [sep.example.com]
    tls: {mode: MUTUAL, credentialName: sep-cert}
  - port: {number: 443, name: san, protocol: HTTPS}
    hosts: [san.example.com]
    tls: {mode: MUTUAL, credentialName: mtls-cert, subjectAltNames: ["spiffe://partner.example/ns/a/sa/good"]}
  - port: {number: 443, name: crl, protocol: HTTPS}
    hosts: [crl.example.com]
    tls: {mode: MUTUAL, credentialName: crl-cert}
  - port: {number: 443, name: pin, protocol: HTTPS}
    hosts: [pin.example.com]
    tls: {mode: MUTUAL, credentialName: mtls-cert, verifyCertificateHash: ["`+hex.EncodeToString(goodHash[:])+`"]}
  - port: {number: 443, name: opt, protocol: HTTPS}
    hosts: [opt.example.com]
    tls: {mode: OPTIONAL_MUTUAL, credentialName: mtls-cert}
`), staticEntry("web", "web.internal", port(t, web)), routeAll("web", "web.internal")))
	addr := g.addr(t, 443)

	tests := []struct {
		name    string
		host    string
		client  *issued
		wantErr string // "" means 200
		reason  string // the handshake error counted
	}{
		{name: "no certificate refused", host: "mtls.example.com", wantErr: "certificate required", reason: reasonNoClientCert},
		{name: "wrong CA refused", host: "mtls.example.com", client: stranger, wantErr: "remote error: tls:", reason: reasonBadClientCert},
		{name: "good certificate", host: "mtls.example.com", client: good},
		{name: "CA from the -cacert Secret", host: "sep.example.com", client: good},
		{name: "wrong CA with -cacert Secret", host: "sep.example.com", client: stranger, wantErr: "remote error: tls:", reason: reasonBadClientCert},
		{name: "SAN match", host: "san.example.com", client: good},
		{name: "SAN mismatch", host: "san.example.com", client: other, wantErr: "remote error: tls:", reason: reasonBadClientCert},
		{name: "not revoked", host: "crl.example.com", client: good},
		{name: "revoked", host: "crl.example.com", client: revoked, wantErr: "remote error: tls:", reason: reasonBadClientCert},
		{name: "pinned", host: "pin.example.com", client: good},
		{name: "not pinned", host: "pin.example.com", client: other, wantErr: "remote error: tls:", reason: reasonBadClientCert},
		{name: "optional without certificate", host: "opt.example.com"},
		{name: "optional with certificate", host: "opt.example.com", client: good},
		{name: "optional with wrong CA", host: "opt.example.com", client: stranger, wantErr: "remote error: tls:", reason: reasonBadClientCert},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert := tt.client
			client := httpsClient(t, addr, serverCA.pool(), nil)
			if cert != nil {
				client = httpsClient(t, addr, serverCA.pool(), &cert.tls)
			}
			if tt.wantErr != "" {
				// Over HTTP/1.1 on a bare connection: an HTTP/2 client hides the TLS alert.
				before := testutil.ToFloat64(g.metrics.handshakeErrors.WithLabelValues(tt.reason))
				cfg := &tls.Config{ServerName: tt.host, RootCAs: serverCA.pool()}
				if cert != nil {
					cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert.tls, nil }
				}
				_, status, err := handshake(t, addr, cfg)
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %q, err = %v, want %q", status, err, tt.wantErr)
				}
				eventually(t, tt.reason+" counted", func() bool {
					return testutil.ToFloat64(g.metrics.handshakeErrors.WithLabelValues(tt.reason)) > before
				})
				return
			}
			res, _, err := fetch(client, "https://"+tt.host+"/", "X-Forwarded-Client-Cert", "By=spoofed;Hash=00")
			if err != nil || res.code != 200 {
				t.Fatalf("%d, %v", res.code, err)
			}
			xfcc := res.header.Get("X-Seen-Xfcc")
			if cert == nil {
				if xfcc != "" {
					t.Errorf("without a client certificate the upstream got XFCC %q", xfcc)
				}
				return
			}
			sum := sha256.Sum256(cert.cert.Raw)
			for _, want := range []string{
				"By=spiffe://cluster.local/ns/istio-system/sa/gateway;",
				"Hash=" + hex.EncodeToString(sum[:]) + ";",
				`Cert="-----BEGIN%20CERTIFICATE-----%0A`,
				`Subject="CN=` + cert.cert.Subject.CommonName + `,O=Gatehouse Tests"`,
				"URI=" + cert.cert.URIs[0].String(),
			} {
				if !strings.Contains(xfcc, want) {
					t.Errorf("XFCC %q lacks %q", xfcc, want)
				}
			}
			if strings.Contains(xfcc, "spoofed") {
				t.Errorf("the client's XFCC was passed on: %q", xfcc)
			}
		})
	}
}

// TestFileCredentials: serverCertificate, privateKey, caCertificates and caCrl resolve to the
// store names the file source uses, and a rewritten file (a new store item) is in force for the
// next handshake.
func TestFileCredentials(t *testing.T) {
	t.Parallel()
	web := backend(t, "web")
	serverCA, clientCA := newAuthority(t, "server CA"), newAuthority(t, "client CA")
	server := serverCA.issue(t, leafSpec{cn: "files", dns: []string{"files.example.com"}})
	good := clientCA.issue(t, leafSpec{cn: "good", client: true})
	revoked := clientCA.issue(t, leafSpec{cn: "revoked", client: true})
	s := newSecrets()
	items := func(crl []byte) map[string]map[string][]byte {
		return map[string]map[string][]byte{
			"file-cert:/etc/certs/tls.crt~/etc/certs/tls.key": {"tls.crt": server.certPEM, "tls.key": server.keyPEM},
			"file-root:/etc/certs/ca.crt":                     {"ca.crt": clientCA.pem, "ca.crl": crl},
		}
	}
	s.store.ReplaceSource("gateway-files", items(clientCA.crl(t)))
	g := startTLSGateway(t, s, snapshot(t, 1,
		tlsGatewayDoc(`  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [files.example.com]
    tls:
      mode: MUTUAL
      serverCertificate: /etc/certs/tls.crt
      privateKey: /etc/certs/tls.key
      caCertificates: /etc/certs/ca.crt
      caCrl: /etc/certs/ca.crl
`), staticEntry("web", "web.internal", port(t, web)), routeAll("web", "web.internal")))
	try := func(c *issued) error {
		cfg := &tls.Config{ServerName: "files.example.com", RootCAs: serverCA.pool(),
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c.tls, nil }}
		_, status, err := handshake(t, g.addr(t, 443), cfg)
		if err == nil && !strings.Contains(status, "200") {
			return errors.New(status)
		}
		return err
	}
	if err := try(revoked); err != nil {
		t.Fatalf("before its revocation: %v", err)
	}
	s.store.ReplaceSource("gateway-files", items(clientCA.crl(t, revoked.cert)))
	if err := try(revoked); err == nil {
		t.Error("a revoked certificate was accepted after the CRL file changed")
	}
	if err := try(good); err != nil {
		t.Errorf("good certificate: %v", err)
	}
}
