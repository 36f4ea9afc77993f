package gateway

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// TestWildcardDynamicForward follows Istio's "Wildcard hosts egress" with one ServiceEntry for
// *.wikipedia.test: the gateway dials the client's SNI, resolved per connection, on the
// ServiceEntry port. A name outside the wildcard is never dialed, even when the route's SNI
// match takes it and it resolves. Every connection is one L4 access log line.
func TestWildcardDynamicForward(t *testing.T) {
	t.Parallel()
	for _, resolution := range []string{"DYNAMIC_DNS", "NONE"} {
		t.Run(resolution, func(t *testing.T) {
			t.Parallel()
			ca := newAuthority(t, "external CA")
			en := httptest.NewUnstartedServer(echo("en"))
			en.TLS = &tls.Config{Certificates: []tls.Certificate{ca.issue(t, leafSpec{cn: "en", dns: []string{"en.wikipedia.test", "evil.test"}}).tls}}
			en.StartTLS()
			t.Cleanup(en.Close)

			r := &fakeResolver{}
			r.set("en.wikipedia.test", "127.0.0.1")
			r.set("evil.test", "127.0.0.1")
			file := filepath.Join(t.TempDir(), "access.log")
			g := newTestGateway(t, map[uint32]uint32{443: 0}, func(o *Options) { o.Credentials = newSecrets().store })
			g.dns.resolver = r
			err := g.Apply(snapshot(t, 1, tlsGatewayDoc(`  - port: {number: 443, name: tls, protocol: TLS}
    hosts: ["*.test"]
    tls: {mode: PASSTHROUGH}
`), accessLogMesh(file, "JSON"), fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: wikipedia, namespace: istio-system}
spec:
  hosts: ["*.wikipedia.test"]
  location: MESH_EXTERNAL
  ports: [{number: 443, name: tls, protocol: TLS, targetPort: %s}]
  resolution: %s
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: wikipedia, namespace: istio-system}
spec:
  hosts: ["*.test"]
  gateways: [edge]
  tls:
  - match: [{port: 443, sniHosts: ["*.test"]}]
    route: [{destination: {host: "*.wikipedia.test", port: {number: 443}}}]
`, port(t, en), resolution)))
			if err != nil {
				t.Fatal(err)
			}
			addr := g.addr(t, 443)
			client := httpsClient(t, addr, ca.pool(), nil)
			res, raw, err := fetch(client, "https://en.wikipedia.test/")
			if err != nil {
				t.Fatal(err)
			}
			// The connection ends, and is logged, when the client lets it go.
			client.CloseIdleConnections()
			if res.code != 200 || res.body != "en" || raw.TLS.PeerCertificates[0].Subject.CommonName != "en" {
				t.Errorf("en.wikipedia.test: %d %q, want the external server's answer over its own TLS", res.code, res.body)
			}
			refused := []string{
				"de.wikipedia.test", // under the wildcard, does not resolve
				"evil.test",         // resolves, outside the wildcard
			}
			for _, sni := range refused {
				if _, _, err := handshake(t, addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true}); err == nil {
					t.Errorf("SNI %s was passed through", sni)
				}
			}

			want := map[string]string{"en.wikipedia.test": "-", "de.wikipedia.test": "DF", "evil.test": "NR"}
			var lines map[string]l4Line
			eventually(t, "an access log line per connection", func() bool {
				lines = readL4Lines(t, file)
				return len(lines) == len(want)
			})
			for sni, flags := range want {
				l := lines[sni]
				if l.Flags != flags || l.Cluster != "outbound|443||*.wikipedia.test" || l.Method != nil || l.Path != nil {
					t.Errorf("%s: logged %+v, want flags %s, the wildcard cluster and no method or path", sni, l, flags)
				}
				if (flags == "-") != (l.UpstreamHost != nil) {
					t.Errorf("%s: upstream host %v with flags %s", sni, l.UpstreamHost, flags)
				}
			}
			if l := lines["en.wikipedia.test"]; l.Received == 0 || l.Sent == 0 {
				t.Errorf("en.wikipedia.test: %d bytes received, %d sent; want both counted", l.Received, l.Sent)
			}
		})
	}
}

// l4Line is the part of a JSON access log line an L4 connection fills.
type l4Line struct {
	SNI          string  `json:"requested_server_name"`
	Flags        string  `json:"response_flags"`
	Cluster      string  `json:"upstream_cluster"`
	UpstreamHost *string `json:"upstream_host"`
	Method       *string `json:"method"`
	Path         *string `json:"path"`
	Received     int64   `json:"bytes_received"`
	Sent         int64   `json:"bytes_sent"`
}

// readL4Lines reads the access log's lines by SNI.
func readL4Lines(t *testing.T, file string) map[string]l4Line {
	t.Helper()
	return readL4LinesBy(t, file, func(l l4Line) string { return l.SNI })
}

// readL4LinesBy reads the access log's lines by the key of each.
func readL4LinesBy(t *testing.T, file string, key func(l4Line) string) map[string]l4Line {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	out := map[string]l4Line{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var l l4Line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("access log line %q: %v", sc.Text(), err)
		}
		out[key(l)] = l
	}
	return out
}

func TestDynamicForwardAdmits(t *testing.T) {
	t.Parallel()
	f := &DynamicForward{Host: "*.wikipedia.test", Port: 443}
	tests := []struct {
		name string
		want bool
	}{
		{"en.wikipedia.test", true},
		{"a.b.wikipedia.test", true},
		{"EN.Wikipedia.Test", true},
		{"wikipedia.test", false},
		{"evil.test", false},
		{"enwikipedia.test", false},
		{"", false},
		{"127.0.0.1", false},
		{"en..wikipedia.test", false},
		{"-en.wikipedia.test", false},
		{"en_x.wikipedia.test", false},
		{"en.wikipedia.test:80", false},
	}
	for _, tt := range tests {
		if got := f.admits(tt.name); got != tt.want {
			t.Errorf("admits(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
