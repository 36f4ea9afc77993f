package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const sidecarID = "spiffe://cluster.local/ns/istio-system/sa/app"

// sidecarGatewayDoc is the Gateway `gatehouse sidecar` synthesizes for an inbound port: one
// ISTIO_MUTUAL HTTPS server, PERMISSIVE when mode says so.
func sidecarGatewayDoc(mode string) string {
	annotations := ""
	if mode != "" {
		annotations = "\n  annotations: {" + MTLSModeAnnotation + ": " + mode + "}"
	}
	return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: edge
  namespace: istio-system` + annotations + `
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https-inbound, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: ISTIO_MUTUAL}
`
}

// inboundRoutes sends HTTP to web.internal and TCP (the passed-through TLS) to tlsapp.internal.
const inboundRoutes = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: inbound, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
  - route: [{destination: {host: web.internal}}]
  tcp:
  - route: [{destination: {host: tlsapp.internal, port: {number: 443}}}]
`

func tlsEntry(name, host, port string) string {
	return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ` + name + `, namespace: istio-system}
spec:
  hosts: [` + host + `]
  ports: [{number: 443, name: tls, protocol: TLS, targetPort: ` + port + `}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
`
}

// meshALPNClient is a mesh client offering Istio's mTLS ALPN for HTTP/1.1, as a sidecar or a
// gateway originating ISTIO_MUTUAL does.
func meshALPNClient(t *testing.T, addr string, mesh *authority, cert *tls.Certificate) *http.Client {
	t.Helper()
	c := meshClient(t, addr, mesh.pool(), cert)
	tr := c.Transport.(*http.Transport)
	tr.ForceAttemptHTTP2 = false
	tr.TLSClientConfig.NextProtos = meshALPN("HTTP")
	tr.TLSClientConfig.VerifyConnection = verifyMeshServer(mesh.pool(), []string{sidecarID})
	return c
}

// TestPermissive: a PERMISSIVE port serves plaintext HTTP, mesh mTLS (with the peer's identity
// in x-forwarded-client-cert) and passes other TLS through to the tcp route; switching the
// Gateway to STRICT by a reload refuses plaintext on the same socket, and switching back
// serves it again.
func TestPermissive(t *testing.T) {
	t.Parallel()
	web := backend(t, "web")
	tlsApp := httptest.NewTLSServer(echo("tlsapp"))
	t.Cleanup(tlsApp.Close)
	mesh := newAuthority(t, "mesh CA")
	peer := mesh.meshLeaf(t, "spiffe://cluster.local/ns/apps/sa/caller")
	docs := func(mode string) []string {
		return []string{sidecarGatewayDoc(mode), inboundRoutes, staticEntry("web", "web.internal", port(t, web)),
			tlsEntry("tlsapp", "tlsapp.internal", port(t, tlsApp))}
	}
	g := startMeshGateway(t, meshStore(mesh, mesh.meshLeaf(t, sidecarID)), docs("PERMISSIVE")...)
	addr := g.addr(t, 443)
	if l := g.Table().Listeners[0]; !l.Permissive || l.PassthroughRoute == nil {
		t.Fatalf("listener not PERMISSIVE with a passthrough route: %+v", l)
	}

	plain := func() (response, error) {
		return get(t, newClient(t), addr, "app.local", "/", "X-Forwarded-Client-Cert", "By=spoofed")
	}
	t.Run("plaintext HTTP", func(t *testing.T) {
		res, err := plain()
		if err != nil || res.code != 200 || res.body != "web" {
			t.Fatalf("%d %q (%v), want 200 from web", res.code, res.body, err)
		}
		if xfcc := res.header.Get("X-Seen-Xfcc"); xfcc != "" {
			t.Errorf("plaintext request reached the app with x-forwarded-client-cert %q", xfcc)
		}
	})
	t.Run("mesh mTLS", func(t *testing.T) {
		res, _, err := fetch(meshALPNClient(t, addr, mesh, &peer.tls), "https://outbound_.443_._.app.local/")
		if err != nil || res.code != 200 || res.body != "web" {
			t.Fatalf("%d %q (%v), want 200 from web", res.code, res.body, err)
		}
		xfcc := res.header.Get("X-Seen-Xfcc")
		for _, want := range []string{"By=" + sidecarID, "Hash=", "URI=spiffe://cluster.local/ns/apps/sa/caller"} {
			if !strings.Contains(xfcc, want) {
				t.Errorf("x-forwarded-client-cert %q lacks %s", xfcc, want)
			}
		}
	})
	t.Run("non-mesh TLS passes through", func(t *testing.T) {
		// The app's own certificate answers: the bytes were not terminated.
		res, _, err := fetch(httpsClient(t, addr, certPool(tlsApp), nil), "https://example.com/")
		if err != nil || res.code != 200 || res.body != "tlsapp" {
			t.Fatalf("%d %q (%v), want 200 from tlsapp", res.code, res.body, err)
		}
	})
	t.Run("STRICT then PERMISSIVE again", func(t *testing.T) {
		if err := g.Apply(snapshot(t, 2, docs("")...)); err != nil {
			t.Fatal(err)
		}
		if _, err := plain(); err == nil {
			t.Fatal("plaintext served under STRICT")
		}
		if res, _, err := fetch(meshALPNClient(t, addr, mesh, &peer.tls), "https://app.local/"); err != nil || res.code != 200 {
			t.Fatalf("mesh mTLS under STRICT: %d (%v)", res.code, err)
		}
		if err := g.Apply(snapshot(t, 3, docs("PERMISSIVE")...)); err != nil {
			t.Fatal(err)
		}
		if res, err := plain(); err != nil || res.code != 200 {
			t.Fatalf("plaintext after PERMISSIVE again: %d (%v)", res.code, err)
		}
	})
}

// TestPermissiveAuthorization: plaintext on a PERMISSIVE port has no principal, so a policy
// allowing a mesh identity admits its mTLS requests and denies plaintext ones.
func TestPermissiveAuthorization(t *testing.T) {
	t.Parallel()
	web := backend(t, "web")
	mesh := newAuthority(t, "mesh CA")
	good := mesh.meshLeaf(t, "spiffe://cluster.local/ns/apps/sa/good")
	other := mesh.meshLeaf(t, "spiffe://cluster.local/ns/apps/sa/other")
	g := startMeshGateway(t, meshStore(mesh, mesh.meshLeaf(t, sidecarID)), sidecarGatewayDoc("PERMISSIVE"), inboundRoutes,
		staticEntry("web", "web.internal", port(t, web)), `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: mesh-only, namespace: istio-system}
spec:
  action: ALLOW
  rules:
  - from: [{source: {principals: [cluster.local/ns/apps/sa/good]}}]
  - to: [{operation: {paths: ["/open"]}}]
`)
	addr := g.addr(t, 443)
	tests := []struct {
		name   string
		client *issued // nil: plaintext
		path   string
		code   int
	}{
		{name: "allowed principal", client: good, path: "/", code: 200},
		{name: "other principal", client: other, path: "/", code: 403},
		{name: "plaintext", path: "/", code: 403},
		{name: "plaintext to an open path", path: "/open", code: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var res response
			var err error
			if tc.client == nil {
				res, err = get(t, newClient(t), addr, "app.local", tc.path)
			} else {
				res, _, err = fetch(meshALPNClient(t, addr, mesh, &tc.client.tls), "https://app.local"+tc.path)
			}
			if err != nil || res.code != tc.code {
				t.Fatalf("%d %q (%v), want %d", res.code, res.body, err, tc.code)
			}
		})
	}
}

// TestOffersMeshALPN: the ALPN values that make a ClientHello mesh mTLS on a PERMISSIVE port.
func TestOffersMeshALPN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		alpn []string
		want bool
	}{
		{nil, false},
		{[]string{"h2", "http/1.1"}, false},
		{[]string{"istio-peer-exchange", "istio"}, true},
		{[]string{"istio-http/1.0"}, true},
		{[]string{"istio-http/1.1", "istio", "http/1.1"}, true},
		{[]string{"istio-h2", "istio", "h2"}, true},
		{[]string{"istio-http/2"}, false},
	}
	for _, tc := range tests {
		if got := offersMeshALPN(tc.alpn); got != tc.want {
			t.Errorf("offersMeshALPN(%q) = %v, want %v", tc.alpn, got, tc.want)
		}
	}
}

// certPool trusts a TLS test server's certificate.
func certPool(srv *httptest.Server) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return pool
}
