package gateway

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingBackend is an upstream that counts the requests it gets and echoes what the gateway
// sent.
func countingBackend(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	h := echo("up")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// pipelined writes raw request bytes on conn and reads responses until the gateway closes it.
func pipelined(t *testing.T, conn net.Conn, raw string) []*http.Response {
	t.Helper()
	// A hang guard, not a timing assertion.
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	var out []*http.Response
	for {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			return out
		}
		_, _ = io.Copy(io.Discard, res.Body)
		out = append(out, res)
	}
}

func statuses(rs []*http.Response) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.Status[:3])
	}
	return strings.Join(s, " ")
}

const smuggle = "POST /smuggle HTTP/1.1\r\nHost: x\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n" +
	"0\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n"

// TestSmugglingRejected: a request with both Content-Length and Transfer-Encoding gets 400, as
// from Envoy, on plaintext and on TLS HTTP/1.1, and never reaches the upstream; a request
// pipelined before it is served.
func TestSmugglingRejected(t *testing.T) {
	t.Parallel()
	up, count := countingBackend(t)
	g := startGateway(t, snapshot(t, 1, edgeGateway, staticEntry("up", "up.internal", port(t, up)), routeTo("up.internal")))
	addr := g.addr(t, 80)
	tests := []struct {
		name, raw, want string
		upstream        int64
	}{
		{"CL and TE", smuggle, "400", 0},
		{"pipelined after a good request", "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n" + smuggle, "200 400", 1},
	}
	for _, tt := range tests {
		before := count.Load()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		got := statuses(pipelined(t, conn, tt.raw))
		_ = conn.Close()
		if got != tt.want || count.Load()-before != tt.upstream {
			t.Errorf("%s: responses %q and %d upstream requests, want %q and %d", tt.name, got, count.Load()-before, tt.want, tt.upstream)
		}
	}
}

// TestTLSHTTP1Framed: on a TLS connection that negotiated HTTP/1.1 (framed by h1frame), what
// the gateway reads from the TLS state still works: the scheme, the client certificate in
// XFCC, and the smuggling guard.
func TestTLSHTTP1Framed(t *testing.T) {
	t.Parallel()
	up, count := countingBackend(t)
	serverCA, clientCA := newAuthority(t, "server CA"), newAuthority(t, "client CA")
	server := serverCA.issue(t, leafSpec{cn: "gateway", dns: []string{"mtls.example.com"}})
	client := clientCA.issue(t, leafSpec{cn: "good", client: true, uris: []string{"spiffe://partner.example/ns/a/sa/good"}})
	s := newSecrets()
	s.put("mtls-cert", "tls.crt", server.certPEM, "tls.key", server.keyPEM, "ca.crt", clientCA.pem)
	g := startTLSGateway(t, s, snapshot(t, 1,
		tlsGatewayDoc(`  - port: {number: 443, name: mtls, protocol: HTTPS}
    hosts: [mtls.example.com]
    tls: {mode: MUTUAL, credentialName: mtls-cert}
`), staticEntry("up", "up.internal", port(t, up)), routeAll("up", "up.internal")))
	dial := func() *tls.Conn {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", g.addr(t, 443), &tls.Config{
			ServerName: "mtls.example.com", RootCAs: serverCA.pool(), NextProtos: []string{"http/1.1"},
			Certificates: []tls.Certificate{client.tls},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}

	conn := dial()
	if p := conn.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Fatalf("negotiated %q, want http/1.1", p)
	}
	rs := pipelined(t, conn, "GET / HTTP/1.1\r\nHost: mtls.example.com\r\nConnection: close\r\n\r\n")
	if len(rs) != 1 || rs[0].StatusCode != 200 {
		t.Fatalf("responses %q, want 200", statuses(rs))
	}
	h := rs[0].Header
	if got := h.Get("X-Seen-Forwarded-Proto"); got != "https" {
		t.Errorf("upstream saw X-Forwarded-Proto %q, want https", got)
	}
	if got := h.Get("X-Seen-Xfcc"); !strings.Contains(got, "URI=spiffe://partner.example/ns/a/sa/good") {
		t.Errorf("upstream saw XFCC %q, want the client's URI SAN", got)
	}

	before := count.Load()
	if got := statuses(pipelined(t, dial(), strings.ReplaceAll(smuggle, "Host: x", "Host: mtls.example.com"))); got != "400" || count.Load() != before {
		t.Errorf("CL and TE over TLS: responses %q and %d upstream requests, want 400 and none", got, count.Load()-before)
	}
}
