package h1

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"testing"
)

func TestRequestBodies(t *testing.T) {
	t.Parallel()
	s := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Length", r.Header.Get("Content-Length"))
		w.Header().Set("X-TE", strings.Join(r.TransferEncoding, ","))
		_, _ = w.Write(b)
	})
	tr := &Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	tests := []struct {
		name    string
		body    io.Reader
		length  int64
		expect  bool
		wantLen string
		wantTE  string
	}{
		{name: "none", wantLen: "0"}, // as net/http: a POST says its empty length
		{name: "content-length", body: strings.NewReader("hello"), length: 5, wantLen: "5"},
		{name: "chunked", body: io.MultiReader(strings.NewReader("hel"), strings.NewReader("lo")), length: -1, wantTE: "chunked"},
		{name: "expect 100-continue", body: strings.NewReader("hello"), length: 5, expect: true, wantLen: "5"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodPost, s.URL, tt.body)
		if tt.body != nil {
			req.Body = io.NopCloser(tt.body) // no GetBody, not a known in-memory reader
			req.GetBody = nil
		}
		req.ContentLength = tt.length
		if tt.expect {
			req.Header.Set("Expect", "100-continue")
		}
		res, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		b, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		want := "hello"
		if tt.body == nil {
			want = ""
		}
		if string(b) != want || res.Header.Get("X-Length") != tt.wantLen || res.Header.Get("X-TE") != tt.wantTE {
			t.Errorf("%s: body %q length %q te %q", tt.name, b, res.Header.Get("X-Length"), res.Header.Get("X-TE"))
		}
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("%d connections for sequential requests, want 1", n)
	}
}

func TestResponses(t *testing.T) {
	t.Parallel()
	s := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/length":
			w.Header().Set("Content-Length", "5")
			_, _ = io.WriteString(w, "hello")
		case "/chunked":
			w.Header().Set("Trailer", "Grpc-Status")
			_, _ = io.WriteString(w, "hel")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "lo")
			w.Header().Set("Grpc-Status", "0")
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			w.WriteHeader(http.StatusNotModified)
		default:
			w.Header().Set("Content-Length", "5")
		}
	})
	tr := &Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	tests := []struct {
		method, path, body string
		trailer            string
		chunked            bool
	}{
		{method: "GET", path: "/length", body: "hello"},
		{method: "GET", path: "/chunked", body: "hello", trailer: "0", chunked: true},
		{method: "HEAD", path: "/length"},
		{method: "GET", path: "/204"},
		{method: "GET", path: "/304"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, s.URL+tt.path, nil)
		res, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tt.method, tt.path, err)
		}
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatalf("%s %s: body: %v", tt.method, tt.path, err)
		}
		_ = res.Body.Close()
		if string(b) != tt.body || res.Trailer.Get("Grpc-Status") != tt.trailer || (len(res.TransferEncoding) > 0) != tt.chunked {
			t.Errorf("%s %s: body %q trailer %v te %v", tt.method, tt.path, b, res.Trailer, res.TransferEncoding)
		}
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("%d connections for sequential requests, want 1", n)
	}
	if hosts, conns, idle := tr.poolState(); hosts != 1 || conns != 1 || idle != 1 {
		t.Errorf("pool: %d hosts %d conns %d idle, want 1 1 1", hosts, conns, idle)
	}
}

// TestWrittenRequest checks the bytes a proxy sends: the Host it was given, no Go User-Agent
// when ReverseProxy suppresses it with an empty one, and Connection: close under
// DisableKeepAlives.
func TestWrittenRequest(t *testing.T) {
	t.Parallel()
	got := make(chan string, 4)
	s := newRawServer(t, func(_ int, c net.Conn) {
		br := bufio.NewReader(c)
		for {
			var head bytes.Buffer
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				head.WriteString(line)
				if line == "\r\n" {
					break
				}
			}
			got <- head.String()
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}
	})
	for _, tt := range []struct {
		name      string
		disable   bool
		wantClose bool
	}{{name: "keep-alive"}, {name: "DisableKeepAlives", disable: true, wantClose: true}} {
		tr := &Transport{DisableKeepAlives: tt.disable}
		req, _ := http.NewRequest(http.MethodGet, s.url()+"/p?q=1", nil)
		req.Host = "svc.example"
		req.Header.Set("User-Agent", "")
		req.Header.Set("X-Request-Id", "abc")
		if _, err := tr.RoundTrip(req); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		head := <-got
		if !strings.HasPrefix(head, "GET /p?q=1 HTTP/1.1\r\nHost: svc.example\r\n") || strings.Contains(head, "User-Agent") ||
			!strings.Contains(head, "X-Request-Id: abc\r\n") || strings.Contains(head, "Accept-Encoding") ||
			strings.Contains(head, "Connection: close\r\n") != tt.wantClose {
			t.Errorf("%s: wrote\n%s", tt.name, head)
		}
		if req.Close {
			t.Errorf("%s: the caller's request was modified", tt.name)
		}
		if _, conns, _ := tr.poolState(); tt.disable && conns != 0 {
			t.Errorf("%s: %d connections kept", tt.name, conns)
		}
		tr.CloseIdleConnections()
	}
}

func TestInformationalResponses(t *testing.T) {
	t.Parallel()
	s := newRawServer(t, func(_ int, c net.Conn) {
		br := bufio.NewReader(c)
		for {
			if _, _, err := readRequest(br); err != nil {
				return
			}
			_, _ = io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"+
				"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	tr := &Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	var codes []int
	var link string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		codes = append(codes, code)
		if code == 103 {
			link = h.Get("Link")
		}
		return nil
	}}
	for _, withTrace := range []bool{false, true} {
		ctx := context.Background()
		if withTrace {
			ctx = httptrace.WithClientTrace(ctx, trace)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.url(), strings.NewReader("x"))
		req.Header.Set("Expect", "100-continue")
		res, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode != 200 || string(b) != "ok" {
			t.Errorf("trace %v: %d %q", withTrace, res.StatusCode, b)
		}
	}
	if len(codes) != 2 || codes[0] != 100 || codes[1] != 103 || link != "</a.css>" {
		t.Errorf("Got1xxResponse saw %v, Link %q", codes, link)
	}
}

func TestUpgrade(t *testing.T) {
	t.Parallel()
	s := newRawServer(t, func(_ int, c net.Conn) {
		br := bufio.NewReader(c)
		if _, _, err := readRequest(br); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nhi ")
		_, _ = io.Copy(c, br) // echo
	})
	tr := &Transport{MaxConnsPerHost: 1}
	req, _ := http.NewRequest(http.MethodGet, s.url(), nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	res, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	rw, ok := res.Body.(io.ReadWriteCloser)
	if res.StatusCode != http.StatusSwitchingProtocols || !ok {
		t.Fatalf("%d, body %T", res.StatusCode, res.Body)
	}
	if _, err := io.WriteString(rw, "there"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("hi there"))
	if _, err := io.ReadFull(rw, buf); err != nil || string(buf) != "hi there" {
		t.Errorf("read %q, %v", buf, err)
	}
	// The upgraded connection is the caller's: it holds no slot under MaxConnsPerHost.
	if hosts, conns, _ := tr.poolState(); hosts != 0 || conns != 0 {
		t.Errorf("pool after upgrade: %d hosts %d conns", hosts, conns)
	}
	_ = rw.Close()
}

func TestTLS(t *testing.T) {
	t.Parallel()
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto)
	}))
	t.Cleanup(s.Close)
	roots := s.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	dials := 0
	tr := &Transport{DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials++
		raw, err := net.Dial(network, addr)
		if err != nil {
			return nil, err
		}
		c := tls.Client(raw, &tls.Config{RootCAs: roots, ServerName: "example.com", NextProtos: []string{"http/1.1"}})
		return c, c.HandshakeContext(ctx)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	for range 2 {
		if _, body := get(t, tr, s.URL); body != "HTTP/1.1" {
			t.Errorf("body %q", body)
		}
	}
	if dials != 1 {
		t.Errorf("%d TLS dials for two requests, want 1", dials)
	}
	// Without DialTLSContext, TLSClientConfig is used.
	tr2 := &Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "example.com"}}
	t.Cleanup(tr2.CloseIdleConnections)
	if _, body := get(t, tr2, s.URL); body != "HTTP/1.1" {
		t.Errorf("TLSClientConfig: body %q", body)
	}
}
