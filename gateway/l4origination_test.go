package gateway

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// tlsEchoUpstream is a TLS server that echoes what it reads, then closes its write half. It
// records what the last client offered (SNI, ALPN) and, once a handshake completes, the
// identity its certificate names (first URI SAN, else common name).
type tlsEchoUpstream struct {
	port       string
	mu         sync.Mutex
	sni        string
	alpn       []string
	client     string
	handshakes int
}

func startTLSEcho(t *testing.T, cfg *tls.Config) *tlsEchoUpstream {
	t.Helper()
	u := &tlsEchoUpstream{}
	cfg = cfg.Clone()
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		u.mu.Lock()
		u.sni, u.alpn = hello.ServerName, slices.Clone(hello.SupportedProtos)
		u.mu.Unlock()
		return nil, nil
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go u.serve(c.(*tls.Conn))
		}
	}()
	_, u.port, _ = net.SplitHostPort(ln.Addr().String())
	return u
}

func (u *tlsEchoUpstream) serve(c *tls.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.Handshake(); err != nil {
		return
	}
	client := ""
	if peers := c.ConnectionState().PeerCertificates; len(peers) > 0 {
		client = peers[0].Subject.CommonName
		if len(peers[0].URIs) > 0 {
			client = peers[0].URIs[0].String()
		}
	}
	u.mu.Lock()
	u.client = client
	u.handshakes++
	u.mu.Unlock()
	_, _ = io.Copy(c, c)
	_ = c.CloseWrite()
}

func (u *tlsEchoUpstream) seen() (sni string, alpn []string, client string, handshakes int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.sni, u.alpn, u.client, u.handshakes
}

// echoedNothing writes to conn and reports whether the connection ended with no byte back, as
// one the gateway closes because it could not reach the upstream.
func echoedNothing(t *testing.T, conn net.Conn) bool {
	t.Helper()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(conn, "select 1")
	b, _ := io.ReadAll(conn)
	return len(b) == 0
}

// transportFailure waits for the access log line of cluster and returns its flags and
// %UPSTREAM_TRANSPORT_FAILURE_REASON%.
func transportFailure(t *testing.T, file, cluster string) (flags, reason string) {
	t.Helper()
	type line struct {
		Cluster string `json:"upstream_cluster"`
		Flags   string `json:"response_flags"`
		Reason  string `json:"upstream_transport_failure_reason"`
	}
	var got *line
	eventually(t, "the access log line of "+cluster, func() bool {
		b, err := os.ReadFile(file)
		if err != nil {
			return false
		}
		for _, s := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var l line
			if json.Unmarshal([]byte(s), &l) == nil && l.Cluster == cluster {
				got = &l
				return true
			}
		}
		return false
	})
	return got.Flags, got.Reason
}

const dbTCPRoute = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  tcp:
  - match: [{port: 5432}]
    route: [{destination: {host: db.internal, port: {number: 443}}}]
`

// TestTCPRouteOriginatesTLS: a DestinationRule's SIMPLE or MUTUAL tls wraps a tcp route's
// upstream connection in TLS, with the host (or tls.sni) as SNI and no ALPN, as Envoy's cluster
// transport socket does whatever the route kind. A server the settings do not verify closes the
// client's connection, counted as an upstream error and logged UF with the reason.
func TestTCPRouteOriginatesTLS(t *testing.T) {
	t.Parallel()
	ca := newAuthority(t, "upstream CA")
	server := ca.issue(t, leafSpec{cn: "db", dns: []string{"db.internal", "db.example.com"}})
	client := ca.issue(t, leafSpec{cn: "gateway", client: true})
	tests := []struct {
		name       string
		tls        string
		mutualOnly bool
		wantSNI    string
		wantClient string
		fails      bool // the gateway's handshake fails: UF
		refused    bool // the server refuses the connection after the handshake (TLS 1.3)
	}{
		{name: "SIMPLE with the host as SNI", tls: `{mode: SIMPLE, credentialName: upstream-ca}`, wantSNI: "db.internal"},
		{name: "SIMPLE with tls.sni", tls: `{mode: SIMPLE, credentialName: upstream-ca, sni: db.example.com}`, wantSNI: "db.example.com"},
		{name: "MUTUAL with credentialName", tls: `{mode: MUTUAL, credentialName: upstream-client}`, mutualOnly: true,
			wantSNI: "db.internal", wantClient: "gateway"},
		{name: "an unknown CA", tls: `{mode: SIMPLE}`, fails: true},
		{name: "SIMPLE to a server wanting a client certificate", tls: `{mode: SIMPLE, credentialName: upstream-ca}`, mutualOnly: true, refused: true},
		{name: "MUTUAL without the Secret", tls: `{mode: MUTUAL, credentialName: missing}`, fails: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := &tls.Config{Certificates: []tls.Certificate{server.tls}}
			if tt.mutualOnly {
				cfg.ClientAuth = tls.RequireAndVerifyClientCert
				cfg.ClientCAs = ca.pool()
			}
			up := startTLSEcho(t, cfg)
			s := newSecrets()
			s.put("upstream-ca", "ca.crt", ca.pem)
			s.put("upstream-client", "tls.crt", client.certPEM, "tls.key", client.keyPEM, "ca.crt", ca.pem)
			file := filepath.Join(t.TempDir(), "access.log")
			g := startTLSGateway(t, s, snapshot(t, 1,
				tlsGatewayDoc(`  - port: {number: 5432, name: tcp, protocol: TCP}
    hosts: ["*"]
`),
				accessLogMesh(file, "JSON"),
				tcpEntry("db", "db.internal", "TCP", up.port),
				destinationTLS("db.internal", tt.tls), dbTCPRoute), 5432)
			conn, err := net.Dial("tcp", g.addr(t, 5432))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if tt.fails || tt.refused {
				if !echoedNothing(t, conn) {
					t.Fatal("the connection was proxied")
				}
				if !tt.fails {
					return
				}
				if n := testutil.ToFloat64(g.metrics.tcpUpstreamErrors.WithLabelValues(kindTCP)); n != 1 {
					t.Errorf("tcp upstream errors = %v, want 1", n)
				}
				flags, reason := transportFailure(t, file, "outbound|443||db.internal")
				if flags != "UF" || !strings.HasPrefix(reason, "upstream TLS: ") {
					t.Errorf("logged flags %q, transport failure %q; want UF and the TLS error", flags, reason)
				}
				return
			}
			msg := strings.Repeat("select 1; ", 5000)
			if got := roundTrip(t, conn, msg); got != msg {
				t.Fatalf("echoed %d bytes, want %d", len(got), len(msg))
			}
			sni, alpn, who, handshakes := up.seen()
			if handshakes != 1 || sni != tt.wantSNI || alpn != nil || who != tt.wantClient {
				t.Errorf("upstream saw %d handshakes, SNI %q, ALPN %q, client %q; want 1, %q, none, %q", handshakes, sni, alpn, who, tt.wantSNI, tt.wantClient)
			}
		})
	}
}

// meshTCPRoute sends every connection of the edge Gateway's TCP and TLS servers to reviews.
const meshTCPRoute = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-tcp, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  tcp: [{route: [{destination: {host: reviews.apps.svc.cluster.local, port: {number: 8080}}}]}]
`

// startMeshTCPEcho is a mesh server for TCP: a mesh certificate for id, mesh clients only.
func startMeshTCPEcho(t *testing.T, mesh *authority, id string) *tlsEchoUpstream {
	t.Helper()
	return startTLSEcho(t, &tls.Config{
		Certificates: []tls.Certificate{mesh.meshLeaf(t, id).tls},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    mesh.pool(),
	})
}

// TestTCPRouteIstioMutual: a tcp route reaches a mesh server with ISTIO_MUTUAL, from a
// DestinationRule or auto mTLS for a labelled endpoint: the gateway's mesh certificate, the
// outbound_ SNI, the ALPN of Istio's cluster for TCP ("istio-peer-exchange", "istio"), and
// secure naming, whose refusal closes the client's connection (UF).
func TestTCPRouteIstioMutual(t *testing.T) {
	t.Parallel()
	mesh := newAuthority(t, "mesh CA")
	store := meshStore(mesh, mesh.meshLeaf(t, gatewayID))
	const reviewsID = "spiffe://cluster.local/ns/apps/sa/reviews"
	tests := []struct {
		name     string
		serverID string // "" a plaintext echo server
		labels   string
		dr       bool
		refused  bool
	}{
		{name: "DestinationRule ISTIO_MUTUAL", serverID: reviewsID, dr: true},
		{name: "auto mTLS for a labelled endpoint", serverID: reviewsID, labels: "security.istio.io/tlsMode: istio"},
		{name: "secure naming refuses another account", serverID: "spiffe://cluster.local/ns/apps/sa/ratings", dr: true, refused: true},
		{name: "no label, no DestinationRule: plaintext", serverID: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var up *tlsEchoUpstream
			upstreamPort := echoServer(t)
			if tt.serverID != "" {
				up = startMeshTCPEcho(t, mesh, tt.serverID)
				upstreamPort = up.port
			}
			file := filepath.Join(t.TempDir(), "access.log")
			docs := []string{
				tlsGatewayDoc(`  - port: {number: 443, name: tcp, protocol: TCP}
    hosts: ["*"]
`),
				accessLogMesh(file, "JSON"), meshEntry("TCP", upstreamPort, "reviews", tt.labels), meshTCPRoute,
			}
			if tt.dr {
				docs = append(docs, reviewsIstioMutual)
			}
			g := startMeshGateway(t, store, docs...)
			conn, err := net.Dial("tcp", g.addr(t, 443))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if tt.refused {
				if !echoedNothing(t, conn) {
					t.Fatal("the connection was proxied to a server with another identity")
				}
				flags, reason := transportFailure(t, file, "outbound|8080||reviews.apps.svc.cluster.local")
				if flags != "UF" || !strings.Contains(reason, "secure naming") {
					t.Errorf("logged flags %q, transport failure %q; want UF and secure naming", flags, reason)
				}
				return
			}
			if got := roundTrip(t, conn, "ping"); got != "ping" {
				t.Fatalf("echoed %q", got)
			}
			if up == nil {
				return
			}
			sni, alpn, who, _ := up.seen()
			if sni != "outbound_.8080_._.reviews.apps.svc.cluster.local" || !slices.Equal(alpn, meshL4ALPN) || who != gatewayID {
				t.Errorf("upstream saw SNI %q, ALPN %q, client %q", sni, alpn, who)
			}
		})
	}
}

// TestTerminatedTLSToIstioMutual: a Gateway server with protocol TLS and mode SIMPLE terminates
// the client's TLS, and its tcp route originates ISTIO_MUTUAL to the mesh server: TLS on both
// legs, each with its own certificates.
func TestTerminatedTLSToIstioMutual(t *testing.T) {
	t.Parallel()
	mesh, gatewayCA := newAuthority(t, "mesh CA"), newAuthority(t, "gateway CA")
	store := meshStore(mesh, mesh.meshLeaf(t, gatewayID))
	cert := gatewayCA.issue(t, leafSpec{cn: "db", dns: []string{"db.example.com"}})
	store.ReplaceSource("test", map[string]map[string][]byte{
		"istio-system/db-cert": {"tls.crt": cert.certPEM, "tls.key": cert.keyPEM},
	})
	up := startMeshTCPEcho(t, mesh, "spiffe://cluster.local/ns/apps/sa/reviews")
	g := startMeshGateway(t, store,
		tlsGatewayDoc(`  - port: {number: 443, name: tls-db, protocol: TLS}
    hosts: [db.example.com]
    tls: {mode: SIMPLE, credentialName: db-cert}
`),
		meshEntry("TCP", up.port, "reviews", ""), meshTCPRoute, reviewsIstioMutual)
	conn, err := tls.Dial("tcp", g.addr(t, 443), &tls.Config{ServerName: "db.example.com", RootCAs: gatewayCA.pool()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got := roundTrip(t, conn, "select 1"); got != "select 1" {
		t.Fatalf("echoed %q", got)
	}
	sni, alpn, who, handshakes := up.seen()
	if handshakes != 1 || sni != "outbound_.8080_._.reviews.apps.svc.cluster.local" || !slices.Equal(alpn, meshL4ALPN) || who != gatewayID {
		t.Errorf("upstream saw %d handshakes, SNI %q, ALPN %q, client %q", handshakes, sni, alpn, who)
	}
	if n := testutil.ToFloat64(g.metrics.tcpConnections.WithLabelValues(kindTLS)); n != 1 {
		t.Errorf("tls connections = %v, want 1", n)
	}
}

// TestDynamicForwardTCPOriginatesTLS: a terminated TLS server's tcp route to a wildcard
// DYNAMIC_DNS host dials the client's SNI and originates the DestinationRule's SIMPLE TLS to
// it, sending and verifying that name (Envoy's auto_sni and auto_san_validation).
func TestDynamicForwardTCPOriginatesTLS(t *testing.T) {
	t.Parallel()
	upstreamCA, gatewayCA := newAuthority(t, "external CA"), newAuthority(t, "gateway CA")
	up := startTLSEcho(t, &tls.Config{Certificates: []tls.Certificate{upstreamCA.issue(t, leafSpec{cn: "en", dns: []string{"en.wikipedia.test"}}).tls}})
	front := gatewayCA.issue(t, leafSpec{cn: "front", dns: []string{"en.wikipedia.test"}})
	s := newSecrets()
	s.put("front", "tls.crt", front.certPEM, "tls.key", front.keyPEM)
	s.put("upstream-ca", "ca.crt", upstreamCA.pem)
	r := &fakeResolver{}
	r.set("en.wikipedia.test", "127.0.0.1")
	g := newTestGateway(t, map[uint32]uint32{443: 0}, func(o *Options) { o.Credentials = s.store })
	g.dns.resolver = r
	err := g.Apply(snapshot(t, 1, tlsGatewayDoc(`  - port: {number: 443, name: tls, protocol: TLS}
    hosts: ["*.wikipedia.test"]
    tls: {mode: SIMPLE, credentialName: front}
`), `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: wikipedia, namespace: istio-system}
spec:
  hosts: ["*.wikipedia.test"]
  location: MESH_EXTERNAL
  ports: [{number: 443, name: tls, protocol: TLS, targetPort: `+up.port+`}]
  resolution: DYNAMIC_DNS
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: wikipedia, namespace: istio-system}
spec:
  hosts: ["*.wikipedia.test"]
  gateways: [edge]
  tcp: [{route: [{destination: {host: "*.wikipedia.test", port: {number: 443}}}]}]
`, destinationTLS(`"*.wikipedia.test"`, `{mode: SIMPLE, credentialName: upstream-ca}`)))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", g.addr(t, 443), &tls.Config{ServerName: "en.wikipedia.test", RootCAs: gatewayCA.pool()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got := roundTrip(t, conn, "GET /"); got != "GET /" {
		t.Fatalf("echoed %q", got)
	}
	if sni, alpn, _, handshakes := up.seen(); handshakes != 1 || sni != "en.wikipedia.test" || alpn != nil {
		t.Errorf("upstream saw %d handshakes, SNI %q, ALPN %q; want 1, the client's name, none", handshakes, sni, alpn)
	}
}
