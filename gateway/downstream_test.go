package gateway

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// seenBackend echoes the path, query, X-Forwarded-For and x-envoy-external-address it got.
func seenBackend(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "body=%q content-length=%q", b, r.Header.Get("Content-Length"))
			return
		}
		fmt.Fprintf(w, "path=%s query=%s xff=%s external=%s",
			r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Envoy-External-Address"))
	}))
	t.Cleanup(srv.Close)
	return port(t, srv)
}

// routeEverything sends every request on port 80 to one backend.
func routeEverything(backendPort string) []string {
	return []string{edgeGateway, staticEntry("backend", "backend.internal", backendPort), `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: all, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
  - route: [{destination: {host: backend.internal}}]
`}
}

func meshConfig(mesh string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |\n    " +
		strings.ReplaceAll(strings.TrimSpace(mesh), "\n", "\n    ") + "\n"
}

func settings(spec string) string {
	return "apiVersion: gatehouse.dev/v1alpha1\nkind: Settings\nmetadata: {name: gatehouse, namespace: istio-system}\nspec:\n  " +
		strings.ReplaceAll(strings.TrimSpace(spec), "\n", "\n  ") + "\n"
}

// rawExchange writes a request on a new connection and returns everything the gateway sent back
// before closing it (or before the response, for keep-alive, when one full response is read).
func rawExchange(t *testing.T, addr, req string) (status int, body string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestPathNormalizationReachesUpstream(t *testing.T) {
	t.Parallel()
	be := seenBackend(t)
	tests := []struct {
		mode   string // empty: no MeshConfig
		target string
		want   string // status, or what the upstream saw
	}{
		{"", "/a/../admin?x=/../y", "path=/admin query=x=/../y"},
		{"", "/a/%2e%2e/admin", "path=/admin query="},
		{"", "/x%2Fy", "path=/x%2Fy query="},
		{"", "//a//b", "path=//a//b query="},
		{"", "/a%zz", "400"},
		{"NONE", "/a/../admin", "path=/a/../admin query="},
		{"MERGE_SLASHES", "//a//b/./c", "path=/a/b/c query="},
		{"DECODE_AND_MERGE_SLASHES", "/x%2Fy%5Cz", "path=/x/y/z query="},
		{"DECODE_AND_MERGE_SLASHES", "/x/a%2F..%2Fadmin", "path=/x/admin query="},
	}
	addrs := map[string]string{}
	for _, mode := range []string{"", "NONE", "MERGE_SLASHES", "DECODE_AND_MERGE_SLASHES"} {
		docs := routeEverything(be)
		if mode != "" {
			docs = append(docs, meshConfig("pathNormalization: {normalization: "+mode+"}"))
		}
		g := startGateway(t, snapshot(t, 1, docs...))
		addrs[mode] = g.addr(t, 80)
	}
	for _, tt := range tests {
		code, body := rawExchange(t, addrs[tt.mode], "GET "+tt.target+" HTTP/1.1\r\nHost: shop.example.com\r\nConnection: close\r\n\r\n")
		got := strings.Split(body, " xff=")[0]
		if code != http.StatusOK {
			got = fmt.Sprint(code)
		}
		if got != tt.want {
			t.Errorf("%s %s: got %q, want %q", tt.mode, tt.target, got, tt.want)
		}
	}
}

func TestClientAddress(t *testing.T) {
	t.Parallel()
	be := seenBackend(t)
	def := startGateway(t, snapshot(t, 1, routeEverything(be)...)).addr(t, 80)
	trusted := startGateway(t, snapshot(t, 1, append(routeEverything(be),
		meshConfig("defaultConfig: {gatewayTopology: {numTrustedProxies: 1}}"))...)).addr(t, 80)
	tests := []struct {
		name, addr, xff, want string
	}{
		{"no header", def, "", "xff=127.0.0.1 external=127.0.0.1"},
		{"spoofed header at the default", def, "1.2.3.4", "xff=1.2.3.4,127.0.0.1 external=127.0.0.1"},
		{"one trusted proxy", trusted, "1.2.3.4, 192.0.2.7", "xff=1.2.3.4, 192.0.2.7,127.0.0.1 external=192.0.2.7"},
		{"trusted proxy sent nothing", trusted, "", "xff=127.0.0.1 external=127.0.0.1"},
	}
	for _, tt := range tests {
		req := "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nX-Envoy-External-Address: 6.6.6.6\r\n"
		if tt.xff != "" {
			req += "X-Forwarded-For: " + tt.xff + "\r\n"
		}
		_, body := rawExchange(t, tt.addr, req+"\r\n")
		if _, got, _ := strings.Cut(body, " xff="); "xff="+got != tt.want {
			t.Errorf("%s: upstream saw %q, want %q", tt.name, body, tt.want)
		}
	}
}

func TestProxyProtocol(t *testing.T) {
	t.Parallel()
	be := seenBackend(t)
	g := startGateway(t, snapshot(t, 1, append(routeEverything(be), meshConfig("defaultConfig: {gatewayTopology: {proxyProtocol: {}}}"))...))
	addr := g.addr(t, 80)
	v2 := append([]byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c"), 203, 0, 113, 5, 127, 0, 0, 1, 0x30, 0x39, 0, 80)
	const get = "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
	tests := []struct {
		name, header, want string
	}{
		{"v1", "PROXY TCP4 192.0.2.1 127.0.0.1 5555 80\r\n", "xff=192.0.2.1 external=192.0.2.1"},
		{"v2", string(v2), "xff=203.0.113.5 external=203.0.113.5"},
		{"v1 unknown keeps the peer", "PROXY UNKNOWN\r\n", "xff=127.0.0.1 external=127.0.0.1"},
	}
	for _, tt := range tests {
		code, body := rawExchange(t, addr, tt.header+get)
		if _, got, _ := strings.Cut(body, " xff="); code != http.StatusOK || "xff="+got != tt.want {
			t.Errorf("%s: %d %q, want %q", tt.name, code, body, tt.want)
		}
	}
	if code, body := rawExchange(t, addr, get); code != 0 {
		t.Errorf("without a PROXY header: %d %q, want the connection closed", code, body)
	}
}

func TestDownstreamLimits(t *testing.T) {
	t.Parallel()
	be := seenBackend(t)
	g := startGateway(t, snapshot(t, 1, append(routeEverything(be), settings("downstream: {maxRequestBytes: 1024}"))...))
	addr := g.addr(t, 80)
	big := strings.Repeat("x", 2048)
	tests := []struct {
		name string
		req  string
		want int
		body string // when set, what the upstream must have received
	}{
		{"small header", "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 200, ""},
		{"oversized header", "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("a", 70<<10) + "\r\n\r\n", 431, ""},
		// As Envoy's HTTP/1 codec (http1.content_length_and_chunked_not_allowed), whatever the
		// transfer coding: Content-Length and Transfer-Encoding together are checked first.
		{"smuggling: Content-Length and Transfer-Encoding", "POST / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n", 400, ""},
		{"smuggling: unknown Transfer-Encoding with Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400, ""},
		{"smuggling: unknown Transfer-Encoding", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501, ""},
		{"smuggling: two Content-Lengths", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde", 400, ""},
		{"body within the limit", "POST / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: 4\r\n\r\nabcd", 200, ""},
		{"declared body over the limit", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2048\r\n\r\n" + big, 413, ""},
		{"chunked body over the limit", "POST / HTTP/1.1\r\nHost: h\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" + big + "\r\n0\r\n\r\n", 413, ""},
	}
	for _, tt := range tests {
		if code, body := rawExchange(t, addr, tt.req); code != tt.want || (tt.body != "" && body != tt.body) {
			t.Errorf("%s: %d %q, want %d %q", tt.name, code, body, tt.want, tt.body)
		}
	}
}

func TestSlowlorisIsCutOff(t *testing.T) {
	t.Parallel()
	be := seenBackend(t)
	g := startGateway(t, snapshot(t, 1, append(routeEverything(be), settings("downstream: {headerTimeout: 100ms}"))...))
	c, err := net.Dial("tcp", g.addr(t, 80))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\nX-Slow: "); err != nil {
		t.Fatal(err)
	}
	// The client never finishes its headers: the gateway must close the connection rather than
	// wait for it (the deadline only keeps a broken test from hanging).
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the gateway kept a connection whose headers never came")
	}
}

func TestMaxConnections(t *testing.T) {
	t.Parallel()
	be := seenBackend(t)
	g := startGateway(t, snapshot(t, 1, append(routeEverything(be), settings("downstream: {maxConnections: 1}"))...))
	addr := g.addr(t, 80)
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := rawExchange(t, addr, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"); code != 0 {
		t.Errorf("over the cap: %d %q, want the connection closed", code, body)
	}
	_ = first.Close()
	eventually(t, "a slot to be free again", func() bool {
		code, _ := rawExchange(t, addr, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		return code == http.StatusOK
	})
}

// TestHTTP2RapidResetIsSurvived opens and resets streams as fast as a client can write them
// (CVE-2023-44487), then checks that the gateway still serves.
func TestHTTP2RapidResetIsSurvived(t *testing.T) {
	t.Parallel()
	be := seenBackend(t)
	g := startGateway(t, snapshot(t, 1, routeEverything(be)...))
	addr := g.addr(t, 80)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	w := bufio.NewWriter(c)
	_, _ = w.WriteString("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	writeFrame(w, 0x4, 0, 0, nil) // SETTINGS
	// HPACK: :method GET, :scheme http, :path / (static indexes 2, 6, 4), then :authority h as a
	// literal with the indexed name 1.
	headers := []byte{0x82, 0x86, 0x84, 0x41, 0x01, 'h'}
	for i := range 2000 {
		id := uint32(2*i + 1)
		writeFrame(w, 0x1, 0x5, id, headers)            // HEADERS, END_STREAM|END_HEADERS
		writeFrame(w, 0x3, 0, id, []byte{0, 0, 0, 0x8}) // RST_STREAM CANCEL
	}
	writeFrame(w, 0x6, 0, 0, []byte("rapidrst")) // PING
	_ = w.Flush()
	// The gateway may end the connection (GOAWAY, close) or keep serving it, which a PING
	// acknowledgement shows; either way a new client is served.
	r := bufio.NewReader(c)
	for {
		var h [9]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			break
		}
		n := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
		if _, err := r.Discard(n); err != nil || h[3] == 0x7 || (h[3] == 0x6 && h[4]&1 == 1) {
			break
		}
	}
	eventually(t, "the gateway to serve after a rapid reset", func() bool {
		code, _ := rawExchange(t, addr, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		return code == http.StatusOK
	})
}

func writeFrame(w *bufio.Writer, typ, flags byte, stream uint32, payload []byte) {
	var h [9]byte
	h[0], h[1], h[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	h[3], h[4] = typ, flags
	binary.BigEndian.PutUint32(h[5:], stream)
	_, _ = w.Write(h[:])
	_, _ = w.Write(payload)
}
