package gateway

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// externalEntry is a MESH_EXTERNAL ServiceEntry for host whose HTTP port 80 is served on a
// loopback port, the shape of Istio's "Egress TLS Origination" task.
func externalEntry(host, port string) string {
	return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: external, namespace: istio-system}
spec:
  hosts: [%s]
  location: MESH_EXTERNAL
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: %s}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
`, host, port)
}

func routeAllTo(host string) string {
	return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: route, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  http: [{route: [{destination: {host: %s}}]}]
`, host)
}

func destinationTLS(host, tlsYAML string) string {
	return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: tls, namespace: istio-system}
spec:
  host: %s
  trafficPolicy:
    tls: %s
`, host, tlsYAML)
}

// TestTLSOrigination: a plaintext request to the gateway reaches an HTTPS upstream with TLS the
// gateway originates as the DestinationRule says; a server the settings do not verify, or that
// wants a client certificate the gateway lacks, gets 503.
func TestTLSOrigination(t *testing.T) {
	t.Parallel()
	ca := newAuthority(t, "upstream CA")
	server := ca.issue(t, leafSpec{cn: "api", dns: []string{"api.example.com"}})
	client := ca.issue(t, leafSpec{cn: "gateway", client: true})
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for name, data := range map[string][]byte{caFile: ca.pem, certFile: client.certPEM, keyFile: client.keyPEM} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name       string
		tls        string
		mutualOnly bool
		want       int
	}{
		{name: "simple with credentialName CA", tls: `{mode: SIMPLE, credentialName: upstream-ca, sni: api.example.com}`, want: 200},
		{name: "simple with the host as SNI", tls: `{mode: SIMPLE, credentialName: upstream-ca}`, want: 200},
		{name: "simple with a CA file", tls: fmt.Sprintf(`{mode: SIMPLE, caCertificates: %q}`, caFile), want: 200},
		{name: "simple with matching SAN", tls: `{mode: SIMPLE, credentialName: upstream-ca, sni: other.example.com, subjectAltNames: [api.example.com]}`, want: 200},
		{name: "insecureSkipVerify", tls: `{mode: SIMPLE, sni: other.example.com, insecureSkipVerify: true}`, want: 200},
		{name: "unknown CA", tls: `{mode: SIMPLE}`, want: 503},
		{name: "SNI the certificate does not name", tls: `{mode: SIMPLE, credentialName: upstream-ca, sni: other.example.com}`, want: 503},
		{name: "SAN mismatch", tls: `{mode: SIMPLE, credentialName: upstream-ca, subjectAltNames: [spiffe://example.com/other]}`, want: 503},
		{name: "mutual with credentialName", tls: `{mode: MUTUAL, credentialName: upstream-client}`, mutualOnly: true, want: 200},
		{name: "mutual with files", tls: fmt.Sprintf(`{mode: MUTUAL, clientCertificate: %q, privateKey: %q, caCertificates: %q}`, certFile, keyFile, caFile), mutualOnly: true, want: 200},
		{name: "simple to a server wanting a client certificate", tls: `{mode: SIMPLE, credentialName: upstream-ca}`, mutualOnly: true, want: 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			up := httptest.NewUnstartedServer(echo("external"))
			up.TLS = &tls.Config{Certificates: []tls.Certificate{server.tls}}
			if tt.mutualOnly {
				up.TLS.ClientAuth = tls.RequireAndVerifyClientCert
				up.TLS.ClientCAs = ca.pool()
			}
			up.Config.ErrorLog = log.New(io.Discard, "", 0)
			up.StartTLS()
			t.Cleanup(up.Close)
			s := newSecrets()
			s.put("upstream-ca", "ca.crt", ca.pem)
			s.put("upstream-client", "tls.crt", client.certPEM, "tls.key", client.keyPEM, "ca.crt", ca.pem)
			snap := snapshot(t, 1, edgeGateway, externalEntry("api.example.com", port(t, up)),
				destinationTLS("api.example.com", tt.tls), routeAllTo("api.example.com"))
			g := startTLSGateway(t, s, snap)
			res, err := get(t, newClient(t), g.addr(t, 80), "api.example.com", "/")
			if err != nil {
				t.Fatal(err)
			}
			if res.code != tt.want {
				t.Fatalf("status %d (%q), want %d", res.code, res.body, tt.want)
			}
			if tt.want == http.StatusOK && res.body != "external" {
				t.Errorf("body %q, want the upstream's", res.body)
			}
		})
	}
}
