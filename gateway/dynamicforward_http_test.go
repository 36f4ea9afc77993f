package gateway

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// TestHTTPDynamicForward follows Istio's wildcard egress with an HTTP route to a DYNAMIC_DNS
// ServiceEntry for *.wild.test: each request goes to the name its authority carries (after
// rewrite.authority), resolved per request, on the ServiceEntry port whatever port the Host
// names. Names outside the wildcard and IP literals are refused even when the route takes them;
// a name that does not resolve gets Envoy's dynamic forward proxy answer.
func TestHTTPDynamicForward(t *testing.T) {
	t.Parallel()
	for _, resolution := range []string{"DYNAMIC_DNS", "NONE"} {
		t.Run(resolution, func(t *testing.T) {
			t.Parallel()
			one := backend(t, "one")
			p := port(t, one)
			ln, err := net.Listen("tcp", "127.0.0.2:"+p)
			if err != nil {
				t.Skipf("second loopback address: %v", err)
			}
			two := &httptest.Server{Listener: ln, Config: &http.Server{Handler: echo("two")}}
			two.Start()
			t.Cleanup(two.Close)

			r := &fakeResolver{}
			r.set("a.wild.test", "127.0.0.1")
			r.set("b.wild.test", "127.0.0.2")
			r.set("evil.test", "127.0.0.1")
			g := newTestGateway(t, map[uint32]uint32{80: 0})
			g.dns.resolver = r
			snap := snapshot(t, 1, edgeGateway, fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: wild, namespace: istio-system}
spec:
  hosts: ["*.wild.test"]
  location: MESH_EXTERNAL
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: %s}]
  resolution: %s
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: wild, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
  - match: [{uri: {prefix: /to-b}}]
    rewrite: {authority: b.wild.test}
    route: [{destination: {host: "*.wild.test"}}]
  - match: [{uri: {prefix: /to-evil}}]
    rewrite: {authority: evil.test}
    route: [{destination: {host: "*.wild.test"}}]
  - route: [{destination: {host: "*.wild.test", port: {number: 80}}}]
`, p, resolution))
			if err := g.Apply(snap); err != nil {
				t.Fatal(err)
			}
			client := newClient(t)
			addr := g.addr(t, 80)
			tests := []struct {
				host, path string
				code       int
				body, seen string
			}{
				{"a.wild.test", "/", http.StatusOK, "one", "a.wild.test"},
				{"b.wild.test", "/", http.StatusOK, "two", "b.wild.test"},
				{"B.Wild.Test.", "/", http.StatusOK, "two", "B.Wild.Test."},
				// The Host's port names no port to dial: the ServiceEntry's targetPort is dialed.
				{"a.wild.test:8080", "/", http.StatusOK, "one", "a.wild.test:8080"},
				{"a.wild.test", "/to-b", http.StatusOK, "two", "b.wild.test"},
				{"evil.test", "/", http.StatusNotFound, "", ""},
				{"a.wild.test", "/to-evil", http.StatusNotFound, "", ""},
				{"wild.test", "/", http.StatusNotFound, "", ""},
				{"127.0.0.1", "/", http.StatusNotFound, "", ""},
				{"c.wild.test", "/", http.StatusServiceUnavailable, bodyDNSResolutionFailure, ""},
			}
			for _, tt := range tests {
				res, err := get(t, client, addr, tt.host, tt.path)
				if err != nil {
					t.Fatalf("%s%s: %v", tt.host, tt.path, err)
				}
				if res.code != tt.code || res.body != tt.body || res.header.Get("X-Seen-Host") != tt.seen {
					t.Errorf("%s%s: %d %q (upstream saw Host %q), want %d %q (Host %q)", tt.host, tt.path, res.code, res.body, res.header.Get("X-Seen-Host"), tt.code, tt.body, tt.seen)
				}
			}
		})
	}
}

// TestDynamicForwardAutoSNI checks TLS origination to a dynamic forward cluster without tls.sni:
// the dialer sends the dialed name as SNI and verifies the certificate against it, as Envoy's
// auto_sni and auto_san_validation do.
func TestDynamicForwardAutoSNI(t *testing.T) {
	t.Parallel()
	ca := newAuthority(t, "external CA")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprint(w, r.TLS.ServerName)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.issue(t, leafSpec{cn: "a", dns: []string{"a.wild.test"}}).tls}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	d := &tlsDialer{
		tls: &UpstreamTLS{Mode: "SIMPLE", CACertificates: caFile, ALPN: []string{"http/1.1"}},
		dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var dialer net.Dialer
			return dialer.DialContext(ctx, network, srv.Listener.Addr().String())
		},
	}
	for name, wantErr := range map[string]bool{"a.wild.test": false, "b.wild.test": true} {
		conn, err := d.DialTLSContext(t.Context(), "tcp", net.JoinHostPort(name, "443"))
		if (err != nil) != wantErr {
			t.Errorf("%s: error %v, want error %v", name, err, wantErr)
		}
		if err != nil {
			continue
		}
		if got := conn.(*tls.Conn).ConnectionState().ServerName; got != name {
			t.Errorf("%s: SNI %q", name, got)
		}
		_ = conn.Close()
	}
}
