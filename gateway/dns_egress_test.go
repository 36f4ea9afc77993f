package gateway

import (
	"crypto/tls"
	"fmt"
	"net/http/httptest"
	"testing"
)

// TestWildcardHostsEgress follows the shape of Istio's "Wildcard hosts egress" task with a
// ServiceEntry per concrete host: a PASSTHROUGH server for *.wikipedia.test sends each SNI its
// tls route names to that host, which the gateway resolves by DNS (here a fake resolver) and
// follows when the answer changes. An SNI of the wildcard that no route names is closed.
func TestWildcardHostsEgress(t *testing.T) {
	t.Parallel()
	ca := newAuthority(t, "external CA")
	en := httptest.NewUnstartedServer(echo("en"))
	en.TLS = &tls.Config{Certificates: []tls.Certificate{ca.issue(t, leafSpec{cn: "en", dns: []string{"en.wikipedia.test"}}).tls}}
	en.StartTLS()
	t.Cleanup(en.Close)

	r := &fakeResolver{}
	r.set("en.wikipedia.test", "127.0.0.1")
	g := newTestGateway(t, map[uint32]uint32{443: 0}, func(o *Options) { o.Credentials = newSecrets().store })
	g.dns.resolver = r
	err := g.Apply(snapshot(t, 1, tlsGatewayDoc(`  - port: {number: 443, name: tls, protocol: TLS}
    hosts: ["*.wikipedia.test"]
    tls: {mode: PASSTHROUGH}
`), fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: wikipedia-en, namespace: istio-system}
spec:
  hosts: [en.wikipedia.test]
  location: MESH_EXTERNAL
  ports: [{number: 443, name: tls, protocol: TLS, targetPort: %s}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: wikipedia, namespace: istio-system}
spec:
  hosts: ["*.wikipedia.test"]
  gateways: [edge]
  tls:
  - match: [{port: 443, sniHosts: [en.wikipedia.test]}]
    route: [{destination: {host: en.wikipedia.test, port: {number: 443}}}]
`, port(t, en))))
	if err != nil {
		t.Fatal(err)
	}
	addr := g.addr(t, 443)
	eventually(t, "en.wikipedia.test resolved", func() bool { return resolvedCluster(g, "outbound|443||en.wikipedia.test") })
	res, raw, err := fetch(httpsClient(t, addr, ca.pool(), nil), "https://en.wikipedia.test/")
	if err != nil {
		t.Fatal(err)
	}
	if res.code != 200 || res.body != "en" || raw.TLS.PeerCertificates[0].Subject.CommonName != "en" {
		t.Errorf("en.wikipedia.test: %d %q, want the external server's answer over its own TLS", res.code, res.body)
	}
	if _, _, err := handshake(t, addr, &tls.Config{ServerName: "de.wikipedia.test", InsecureSkipVerify: true}); err == nil {
		t.Error("an SNI no route names was passed through")
	}

	// The name moves to an address nothing serves: new connections follow it, no recompile.
	r.set("en.wikipedia.test", "127.0.0.3")
	g.upstream.Load().refreshDNS(t.Context(), r)
	if _, _, err := fetch(httpsClient(t, addr, ca.pool(), nil), "https://en.wikipedia.test/"); err == nil {
		t.Error("a new answer was not followed")
	}
}

// resolvedCluster reports whether the served Table's cluster name has had a DNS answer.
func resolvedCluster(g *testGateway, name string) bool {
	for _, c := range g.Table().Clusters {
		if c.Name == name {
			return c.dnsView() != nil
		}
	}
	return false
}
