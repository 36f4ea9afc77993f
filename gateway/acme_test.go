package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net/http"
	"testing"
	"time"
)

// fakeACME has one pending HTTP-01 token and one TLS-ALPN-01 name.
type fakeACME struct {
	token, host string
	cert        *tls.Certificate
}

func (f *fakeACME) HTTPChallenge(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.Path != acmeHTTPPrefix+f.token {
		return false
	}
	_, _ = io.WriteString(w, f.token+".thumbprint")
	return true
}

func (f *fakeACME) TLSALPNCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, bool) {
	return f.cert, hello.ServerName == f.host
}

// TestACMEChallenges: a pending HTTP-01 token is answered on port 80 ahead of routing and of a
// policy that denies everything; any other path there is routed; a TLS-ALPN-01 validation gets
// the challenge certificate on 443 though the server's own credential does not exist yet; other
// handshakes are the server's.
func TestACMEChallenges(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "www.example.com"},
		DNSNames: []string{"www.example.com"}, NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	acme := &fakeACME{token: "tok-1", host: "www.example.com", cert: &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
	snap := snapshot(t, 1, tlsGatewayDoc(`  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: SIMPLE, credentialName: not-issued-yet}
`), routeAll("all", "app.internal"), staticEntry("app", "app.internal", port(t, backend(t, "app"))), `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-all, namespace: istio-system}
spec: {}
`)
	s := newSecrets()
	g := newTestGateway(t, map[uint32]uint32{80: 0, 443: 0}, func(o *Options) {
		o.Credentials = s.store
		o.ACME = acme
	})
	if err := g.Apply(snap); err != nil {
		t.Fatal(err)
	}

	res, body := rawGet(t, g.addr(t, 80), acmeHTTPPrefix+"tok-1")
	if res.StatusCode != 200 || body != "tok-1.thumbprint" {
		t.Errorf("pending HTTP-01 token: %d %q", res.StatusCode, body)
	}
	if res, _ := rawGet(t, g.addr(t, 80), acmeHTTPPrefix+"other"); res.StatusCode != 200 {
		t.Errorf("a token that is not pending: %d, want the route's answer", res.StatusCode)
	}

	cs, _, err := handshake(t, g.addr(t, 443), &tls.Config{ServerName: "www.example.com", NextProtos: []string{acmeTLSProtocol}, InsecureSkipVerify: true})
	if cs.NegotiatedProtocol != acmeTLSProtocol || len(cs.PeerCertificates) == 0 || cs.PeerCertificates[0].SerialNumber.Int64() != 7 {
		t.Errorf("TLS-ALPN-01 validation: protocol %q, %d certificates, error %v; want the challenge certificate over acme-tls/1",
			cs.NegotiatedProtocol, len(cs.PeerCertificates), err)
	}
	if _, _, err := handshake(t, g.addr(t, 443), &tls.Config{ServerName: "other.example.com", NextProtos: []string{acmeTLSProtocol}, InsecureSkipVerify: true}); err == nil {
		t.Error("acme-tls/1 for a name with no pending challenge completed a handshake")
	}
}
