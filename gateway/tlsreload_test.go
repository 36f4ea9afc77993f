package gateway

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
)

func TestHTTPSRedirectBesideHTTPS(t *testing.T) {
	t.Parallel()
	web := backend(t, "web")
	ca := newAuthority(t, "server CA")
	cert := ca.issue(t, leafSpec{cn: "web", dns: []string{"web.example.com"}})
	s := newSecrets()
	s.put("web-cert", "tls.crt", cert.certPEM, "tls.key", cert.keyPEM)
	g := startTLSGateway(t, s, snapshot(t, 1,
		tlsGatewayDoc(`  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [web.example.com]
    tls: {httpsRedirect: true}
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [web.example.com]
    tls: {mode: SIMPLE, credentialName: web-cert}
`), staticEntry("web", "web.internal", port(t, web)), routeAll("web", "web.internal")))
	res, err := get(t, newClient(t), g.addr(t, 80), "web.example.com", "/a?b=c")
	if err != nil {
		t.Fatal(err)
	}
	if res.code != http.StatusMovedPermanently || res.header.Get("Location") != "https://web.example.com/a?b=c" {
		t.Errorf("plaintext: %d Location %q", res.code, res.header.Get("Location"))
	}
	res, _, err = fetch(httpsClient(t, g.addr(t, 443), ca.pool(), nil), "https://web.example.com/a")
	if err != nil || res.code != 200 {
		t.Fatalf("https: %d, %v", res.code, err)
	}
}

// TestReloadKeepsOrDrainsTLSConnections: a reload that changes only routes applies to open TLS
// connections; one that changes the TLS settings of their filter chain lets the request finish
// on what was negotiated and closes the connection after it.
func TestReloadKeepsOrDrainsTLSConnections(t *testing.T) {
	t.Parallel()
	a, b := backend(t, "a"), backend(t, "b")
	serverCA, clientCA := newAuthority(t, "server CA"), newAuthority(t, "client CA")
	cert := serverCA.issue(t, leafSpec{cn: "web", dns: []string{"web.example.com"}})
	s := newSecrets()
	s.put("web-cert", "tls.crt", cert.certPEM, "tls.key", cert.keyPEM, "ca.crt", clientCA.pem)
	g := startTLSGateway(t, s, snapshot(t, 1, tlsGatewayDoc(`  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [web.example.com]
    tls: {mode: SIMPLE, credentialName: web-cert}
`), staticEntry("a", "a.internal", port(t, a)), staticEntry("b", "b.internal", port(t, b)), routeAll("web", "a.internal")))
	apply := func(version uint64, mode, target string) {
		t.Helper()
		snap := snapshot(t, version, tlsGatewayDoc(`  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [web.example.com]
    tls: {mode: `+mode+`, credentialName: web-cert}
`), staticEntry("a", "a.internal", port(t, a)), staticEntry("b", "b.internal", port(t, b)), routeAll("web", target))
		if err := g.Apply(snap); err != nil {
			t.Fatal(err)
		}
	}
	client := httpsClient(t, g.addr(t, 443), serverCA.pool(), nil)
	client.Transport.(*http.Transport).ForceAttemptHTTP2 = false
	conns := 0
	client.Transport.(*http.Transport).TLSClientConfig.VerifyConnection = func(tls.ConnectionState) error {
		conns++
		return nil
	}
	want := func(body string, closing bool) {
		t.Helper()
		res, raw, err := fetch(client, "https://web.example.com/")
		if err != nil || res.body != body {
			t.Fatalf("%q, %v; want %q", res.body, err, body)
		}
		if raw.Close != closing {
			t.Errorf("Connection: close = %v, want %v", raw.Close, closing)
		}
	}
	want("a", false)
	apply(2, "SIMPLE", "b.internal")
	want("b", false)
	if conns != 1 {
		t.Errorf("%d connections for route changes, want 1", conns)
	}
	apply(3, "MUTUAL", "a.internal")
	// Negotiated without a client certificate: served once by the old chain, then closed.
	want("b", true)
	if _, _, err := fetch(client, "https://web.example.com/"); err == nil || !strings.Contains(err.Error(), "certificate required") {
		t.Errorf("a new connection without a client certificate: %v, want certificate required", err)
	}
}

// TestPortChangesClass: a port that turns from plaintext HTTP into TLS keeps its socket.
func TestPortChangesClass(t *testing.T) {
	t.Parallel()
	web := backend(t, "web")
	ca := newAuthority(t, "server CA")
	cert := ca.issue(t, leafSpec{cn: "web", dns: []string{"web.example.com"}})
	s := newSecrets()
	s.put("web-cert", "tls.crt", cert.certPEM, "tls.key", cert.keyPEM)
	server := func(protocol, tls string) string {
		return tlsGatewayDoc(`  - port: {number: 443, name: p, protocol: ` + protocol + `}
    hosts: [web.example.com]
` + tls)
	}
	g := startTLSGateway(t, s, snapshot(t, 1, server("HTTP", ""), staticEntry("web", "web.internal", port(t, web)), routeAll("web", "web.internal")))
	addr := g.addr(t, 443)
	if res, err := get(t, newClient(t), addr, "web.example.com", "/"); err != nil || res.code != 200 {
		t.Fatalf("plaintext: %d, %v", res.code, err)
	}
	if err := g.Apply(snapshot(t, 2, server("HTTPS", "    tls: {mode: SIMPLE, credentialName: web-cert}\n"), staticEntry("web", "web.internal", port(t, web)), routeAll("web", "web.internal"))); err != nil {
		t.Fatal(err)
	}
	if got := g.addr(t, 443); got != addr {
		t.Fatalf("listener moved from %s to %s", addr, got)
	}
	if res, _, err := fetch(httpsClient(t, addr, ca.pool(), nil), "https://web.example.com/"); err != nil || res.code != 200 {
		t.Fatalf("TLS: %d, %v", res.code, err)
	}
}
