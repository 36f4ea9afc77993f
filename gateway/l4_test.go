package gateway

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// echoServer is a TCP upstream that sends back what it reads, then closes its write half.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
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
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
				_ = c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p
}

// tcpEntry is a ServiceEntry for host with a TCP (or TLS) port 443 served on a loopback port.
func tcpEntry(name, host, protocol, port string) string {
	return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ` + name + `, namespace: istio-system}
spec:
  hosts: [` + host + `]
  ports: [{number: 443, name: p, protocol: ` + protocol + `, targetPort: ` + port + `}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
`
}

// roundTrip writes msg, half-closes, and reads everything the other side sends back.
func roundTrip(t *testing.T, conn net.Conn, msg string) string {
	t.Helper()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, msg); err != nil {
		t.Fatal(err)
	}
	if err := conn.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPassthroughBesideTerminatedHost(t *testing.T) {
	t.Parallel()
	upstreamCA, gatewayCA := newAuthority(t, "upstream CA"), newAuthority(t, "gateway CA")
	nginx := httptest.NewUnstartedServer(echo("nginx"))
	nginx.TLS = &tls.Config{Certificates: []tls.Certificate{upstreamCA.issue(t, leafSpec{cn: "nginx", dns: []string{"nginx.example.com"}}).tls}}
	nginx.StartTLS()
	t.Cleanup(nginx.Close)
	web := backend(t, "web")
	webCert := gatewayCA.issue(t, leafSpec{cn: "web", dns: []string{"web.example.com"}})
	s := newSecrets()
	s.put("web-cert", "tls.crt", webCert.certPEM, "tls.key", webCert.keyPEM)
	g := startTLSGateway(t, s, snapshot(t, 1,
		tlsGatewayDoc(`  - port: {number: 443, name: tls-pass, protocol: TLS}
    hosts: ["*.example.com"]
    tls: {mode: PASSTHROUGH}
  - port: {number: 443, name: https-web, protocol: HTTPS}
    hosts: [web.example.com]
    tls: {mode: SIMPLE, credentialName: web-cert}
`),
		tcpEntry("nginx", "nginx.internal", "TLS", port(t, nginx)),
		staticEntry("web", "web.internal", port(t, web)),
		`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: nginx, namespace: istio-system}
spec:
  hosts: [nginx.example.com]
  gateways: [edge]
  tls:
  - match: [{sniHosts: [nginx.example.com], port: 443}]
    route: [{destination: {host: nginx.internal, port: {number: 443}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: istio-system}
spec:
  hosts: [web.example.com]
  gateways: [edge]
  http: [{route: [{destination: {host: web.internal}}]}]
`))
	addr := g.addr(t, 443)

	// The upstream terminates: the client sees the upstream's certificate and answer.
	passClient := httpsClient(t, addr, upstreamCA.pool(), nil)
	res, raw, err := fetch(passClient, "https://nginx.example.com/x")
	if err != nil {
		t.Fatal(err)
	}
	if res.code != 200 || res.body != "nginx" || raw.TLS.PeerCertificates[0].Subject.CommonName != "nginx" {
		t.Errorf("passthrough: %d %q from %s", res.code, res.body, raw.TLS.PeerCertificates[0].Subject)
	}
	// The gateway terminates the other host on the same port.
	res, raw, err = fetch(httpsClient(t, addr, gatewayCA.pool(), nil), "https://web.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	if res.code != 200 || res.body != "web" || raw.TLS.PeerCertificates[0].Subject.CommonName != "web" {
		t.Errorf("terminated: %d %q from %s", res.code, res.body, raw.TLS.PeerCertificates[0].Subject)
	}
	// A host of the passthrough server without a tls route is closed.
	if _, _, err := handshake(t, addr, &tls.Config{ServerName: "other.example.com", InsecureSkipVerify: true}); err == nil {
		t.Error("a passthrough host without a route was served")
	}
	// Bytes are counted when the connection ends.
	passClient.CloseIdleConnections()
	eventually(t, "passthrough bytes counted", func() bool {
		return testutil.ToFloat64(g.metrics.tcpConnections.WithLabelValues(kindPassthrough)) >= 1 &&
			testutil.ToFloat64(g.metrics.tcpBytes.WithLabelValues(kindPassthrough, "sent")) > 0
	})
}

func TestTCPRoute(t *testing.T) {
	t.Parallel()
	echoPort := echoServer(t)
	g := startTLSGateway(t, newSecrets(), snapshot(t, 1,
		tlsGatewayDoc(`  - port: {number: 5432, name: tcp, protocol: TCP}
    hosts: ["*"]
`),
		tcpEntry("echo", "echo.internal", "TCP", echoPort),
		`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  tcp:
  - match: [{port: 5432}]
    route: [{destination: {host: echo.internal, port: {number: 443}}}]
`), 5432)
	conn, err := net.Dial("tcp", g.addr(t, 5432))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msg := strings.Repeat("ping ", 10000)
	if got := roundTrip(t, conn, msg); got != msg {
		t.Fatalf("echoed %d bytes, want %d", len(got), len(msg))
	}
	eventually(t, "tcp bytes counted", func() bool {
		return testutil.ToFloat64(g.metrics.tcpBytes.WithLabelValues(kindTCP, "received")) == float64(len(msg)) &&
			testutil.ToFloat64(g.metrics.tcpBytes.WithLabelValues(kindTCP, "sent")) == float64(len(msg))
	})
}

func TestTerminatedTLSToTCPRoute(t *testing.T) {
	t.Parallel()
	echoPort := echoServer(t)
	ca := newAuthority(t, "gateway CA")
	cert := ca.issue(t, leafSpec{cn: "db", dns: []string{"db.example.com"}})
	s := newSecrets()
	s.put("db-cert", "tls.crt", cert.certPEM, "tls.key", cert.keyPEM)
	g := startTLSGateway(t, s, snapshot(t, 1,
		tlsGatewayDoc(`  - port: {number: 9443, name: tls-db, protocol: TLS}
    hosts: [db.example.com]
    tls: {mode: SIMPLE, credentialName: db-cert}
`),
		tcpEntry("echo", "echo.internal", "TCP", echoPort),
		`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: istio-system}
spec:
  hosts: [db.example.com]
  gateways: [edge]
  tcp: [{route: [{destination: {host: echo.internal}}]}]
`), 9443)
	conn, err := tls.Dial("tcp", g.addr(t, 9443), &tls.Config{ServerName: "db.example.com", RootCAs: ca.pool()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got := roundTrip(t, conn, "select 1"); got != "select 1" {
		t.Fatalf("echoed %q", got)
	}
	if n := testutil.ToFloat64(g.metrics.tcpConnections.WithLabelValues(kindTLS)); n != 1 {
		t.Errorf("tls connections = %v, want 1", n)
	}
}

func TestTCPWithoutRouteIsClosed(t *testing.T) {
	t.Parallel()
	g := startTLSGateway(t, newSecrets(), snapshot(t, 1, tlsGatewayDoc(`  - port: {number: 5432, name: tcp, protocol: TCP}
    hosts: ["*"]
`)), 5432)
	conn, err := net.Dial("tcp", g.addr(t, 5432))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if n, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes from a port without a route", n)
	}
}

// TestShutdownClosesProxiedConnections: a proxied connection that outlives the drain is closed,
// and Shutdown returns.
func TestShutdownClosesProxiedConnections(t *testing.T) {
	t.Parallel()
	echoPort := echoServer(t)
	g := startTLSGateway(t, newSecrets(), snapshot(t, 1,
		tlsGatewayDoc(`  - port: {number: 5432, name: tcp, protocol: TCP}
    hosts: ["*"]
`),
		tcpEntry("echo", "echo.internal", "TCP", echoPort),
		`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  tcp: [{route: [{destination: {host: echo.internal}}]}]
`), 5432)
	conn, err := net.Dial("tcp", g.addr(t, 5432))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	// One echo proves the connection is proxied before the shutdown starts.
	if _, err := io.WriteString(conn, "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(conn, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := g.Shutdown(ctx); err == nil {
		t.Error("Shutdown reported a clean drain with a connection still open")
	}
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Error("the proxied connection is still open after Shutdown")
	}
}
