package gateway

import (
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// twoHosts serves web.example.com and api.example.com on port 443, each with its own Secret, one
// in each of Istio's Secret layouts.
func twoHosts(t *testing.T) (*testGateway, *authority, *issued, *issued) {
	t.Helper()
	web, api := backend(t, "web"), backend(t, "api")
	ca := newAuthority(t, "server CA")
	webCert := ca.issue(t, leafSpec{cn: "web.example.com", dns: []string{"web.example.com"}})
	apiCert := ca.issue(t, leafSpec{cn: "api.example.com", dns: []string{"api.example.com"}})
	s := newSecrets()
	s.put("web-cert", "tls.crt", webCert.certPEM, "tls.key", webCert.keyPEM)
	s.put("api-cert", "cert", apiCert.certPEM, "key", apiCert.keyPEM)
	g := startTLSGateway(t, s, snapshot(t, 1,
		tlsGatewayDoc(`  - port: {number: 443, name: https-web, protocol: HTTPS}
    hosts: [web.example.com]
    tls: {mode: SIMPLE, credentialName: web-cert}
  - port: {number: 443, name: https-api, protocol: HTTPS}
    hosts: [api.example.com]
    tls: {mode: SIMPLE, credentialName: api-cert}
`),
		staticEntry("web", "web.internal", port(t, web)),
		staticEntry("api", "api.internal", port(t, api)),
		`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: istio-system}
spec:
  hosts: [web.example.com]
  gateways: [edge]
  http: [{route: [{destination: {host: web.internal}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: istio-system}
spec:
  hosts: [api.example.com]
  gateways: [edge]
  http: [{route: [{destination: {host: api.internal}}]}]
`))
	return g, ca, webCert, apiCert
}

func TestSimpleTwoHostsOnePort(t *testing.T) {
	t.Parallel()
	g, ca, webCert, apiCert := twoHosts(t)
	addr := g.addr(t, 443)
	client := httpsClient(t, addr, ca.pool(), nil)
	tests := []struct {
		host    string
		backend string
		serial  string
	}{
		{"web.example.com", "web", webCert.cert.SerialNumber.String()},
		{"api.example.com", "api", apiCert.cert.SerialNumber.String()},
	}
	for _, tt := range tests {
		res, raw, err := fetch(client, "https://"+tt.host+"/")
		if err != nil {
			t.Fatalf("%s: %v", tt.host, err)
		}
		if res.code != 200 || res.body != tt.backend {
			t.Errorf("%s: %d %q, want 200 from %s", tt.host, res.code, res.body, tt.backend)
		}
		if got := raw.TLS.PeerCertificates[0].SerialNumber.String(); got != tt.serial {
			t.Errorf("%s: served certificate serial %s, want %s", tt.host, got, tt.serial)
		}
		if raw.ProtoMajor != 2 {
			t.Errorf("%s: negotiated %s, want HTTP/2 through ALPN h2", tt.host, raw.Proto)
		}
		if got := res.header.Get("X-Seen-Forwarded-Proto"); got != "https" {
			t.Errorf("%s: upstream saw X-Forwarded-Proto %q, want https", tt.host, got)
		}
	}
	// The SNI selects the server: a Host of the other server is not routed across.
	res, _, err := fetch(client, "https://web.example.com/", "Host", "api.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if res.code != 404 {
		t.Errorf("Host api.example.com on the web.example.com connection: %d, want 404", res.code)
	}
}

func TestUnknownServerNameGetsNoCertificate(t *testing.T) {
	t.Parallel()
	g, ca, _, _ := twoHosts(t)
	addr := g.addr(t, 443)
	for _, sni := range []string{"other.example.com", ""} {
		presented := false
		cfg := &tls.Config{
			ServerName: sni, RootCAs: ca.pool(), InsecureSkipVerify: sni == "",
			VerifyConnection: func(cs tls.ConnectionState) error {
				presented = len(cs.PeerCertificates) > 0
				return nil
			},
		}
		if sni == "" {
			// Go sends no SNI for an IP address.
			cfg.ServerName = "127.0.0.1"
		}
		_, _, err := handshake(t, addr, cfg)
		if err == nil {
			t.Fatalf("SNI %q: handshake succeeded, want the connection closed", sni)
		}
		if presented {
			t.Errorf("SNI %q: the gateway presented a certificate", sni)
		}
	}
	if n := testutil.ToFloat64(g.metrics.handshakeErrors.WithLabelValues(reasonNoMatchingSNI)); n != 2 {
		t.Errorf("no_matching_sni handshake errors = %v, want 2", n)
	}
}

func TestCatchAllServerTakesUnknownAndMissingSNI(t *testing.T) {
	t.Parallel()
	web := backend(t, "web")
	ca := newAuthority(t, "server CA")
	cert := ca.issue(t, leafSpec{cn: "catch-all"})
	s := newSecrets()
	s.put("any-cert", "tls.crt", cert.certPEM, "tls.key", cert.keyPEM)
	g := startTLSGateway(t, s, snapshot(t, 1,
		tlsGatewayDoc(`  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: SIMPLE, credentialName: any-cert}
`), staticEntry("web", "web.internal", port(t, web)), routeAll("web", "web.internal")))
	for _, sni := range []string{"anything.example.org", "127.0.0.1"} {
		cs, status, err := handshake(t, g.addr(t, 443), &tls.Config{ServerName: sni, InsecureSkipVerify: true})
		if err != nil || !strings.Contains(status, "200") {
			t.Fatalf("SNI %q: %q, %v", sni, status, err)
		}
		if got := cs.PeerCertificates[0].Subject.CommonName; got != "catch-all" {
			t.Errorf("SNI %q: served %q", sni, got)
		}
	}
}

func TestNotTLSOnTLSPortIsClosed(t *testing.T) {
	t.Parallel()
	g, _, _, _ := twoHosts(t)
	res, err := get(t, newClient(t), g.addr(t, 443), "web.example.com", "/")
	if err == nil {
		t.Fatalf("plaintext HTTP on a TLS port answered %d", res.code)
	}
	eventually(t, "not_tls counted", func() bool {
		return testutil.ToFloat64(g.metrics.handshakeErrors.WithLabelValues(reasonNotTLS)) == 1
	})
}

func TestMissingCredentialFailsUntilItArrives(t *testing.T) {
	t.Parallel()
	web := backend(t, "web")
	ca := newAuthority(t, "server CA")
	s := newSecrets()
	g := startTLSGateway(t, s, snapshot(t, 1,
		tlsGatewayDoc(`  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [web.example.com]
    tls: {mode: SIMPLE, credentialName: late-cert}
`), staticEntry("web", "web.internal", port(t, web)), routeAll("web", "web.internal")))
	cfg := &tls.Config{ServerName: "web.example.com", RootCAs: ca.pool()}
	if _, _, err := handshake(t, g.addr(t, 443), cfg); err == nil {
		t.Fatal("handshake without the Secret succeeded")
	}
	if n := testutil.ToFloat64(g.metrics.handshakeErrors.WithLabelValues(reasonMissingCredential)); n != 1 {
		t.Errorf("missing_credential = %v, want 1", n)
	}
	cert := ca.issue(t, leafSpec{cn: "web", dns: []string{"web.example.com"}})
	s.put("late-cert", "tls.crt", cert.certPEM, "tls.key", cert.keyPEM)
	// No Apply: the next handshake reads the store.
	if _, status, err := handshake(t, g.addr(t, 443), cfg); err != nil || !strings.Contains(status, "200") {
		t.Fatalf("after the Secret arrived: %q, %v", status, err)
	}
}

func TestNoCredentialStore(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t, map[uint32]uint32{443: 0})
	if err := g.Apply(snapshot(t, 1, tlsGatewayDoc(`  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: SIMPLE, credentialName: any}
`))); err != nil {
		t.Fatal(err)
	}
	_, _, err := handshake(t, g.addr(t, 443), &tls.Config{ServerName: "x.example.com", InsecureSkipVerify: true})
	if err == nil {
		t.Fatal("handshake succeeded without a credential store")
	}
	var rec tls.RecordHeaderError
	if errors.As(err, &rec) {
		t.Fatalf("unexpected plaintext answer: %v", err)
	}
}

// TestGRPCOverTLS: HTTP/2 over TLS downstream, h2c upstream for a GRPC port, as gRPC clients
// reach an HTTPS gateway server.
func TestGRPCOverTLS(t *testing.T) {
	t.Parallel()
	h2 := new(http.Protocols)
	h2.SetUnencryptedHTTP2(true)
	up := httptest.NewUnstartedServer(echo("grpc"))
	up.Config.Protocols = h2
	up.Start()
	t.Cleanup(up.Close)
	ca := newAuthority(t, "server CA")
	cert := ca.issue(t, leafSpec{cn: "grpc", dns: []string{"grpc.example.com"}})
	s := newSecrets()
	s.put("grpc-cert", "tls.crt", cert.certPEM, "tls.key", cert.keyPEM)
	g := startTLSGateway(t, s, snapshot(t, 1,
		tlsGatewayDoc(`  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [grpc.example.com]
    tls: {mode: SIMPLE, credentialName: grpc-cert}
`), strings.Replace(staticEntry("grpc", "grpc.internal", port(t, up)), "protocol: HTTP,", "protocol: GRPC,", 1), routeAll("grpc", "grpc.internal")))
	res, raw, err := fetch(httpsClient(t, g.addr(t, 443), ca.pool(), nil), "https://grpc.example.com/pkg.Service/Method")
	if err != nil {
		t.Fatal(err)
	}
	if raw.ProtoMajor != 2 || res.code != 200 || res.header.Get("X-Seen-Proto") != "HTTP/2.0" {
		t.Errorf("%s %d, upstream saw %s; want HTTP/2 both ways", raw.Proto, res.code, res.header.Get("X-Seen-Proto"))
	}
}
