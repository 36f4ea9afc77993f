package h1

import (
	"bufio"
	"context"
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

// TestConnectionReuse covers when a connection goes back to the pool: never after a
// close-delimited body, a Connection: close on either side, or a body closed before EOF.
func TestConnectionReuse(t *testing.T) {
	t.Parallel()
	s := newRawServer(t, func(_ int, c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, _, err := readRequest(br)
			if err != nil {
				return
			}
			switch req.URL.Path {
			case "/close-delimited":
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\nuntil EOF")
				return
			case "/connection-close":
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
			case "/large":
				_, _ = fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", 1<<20, strings.Repeat("x", 1<<20))
			default:
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}
		}
	})
	tests := []struct {
		name      string
		path      string
		header    string
		readBytes int // -1: to EOF
		wantBody  string
		reused    bool
	}{
		{name: "content-length", path: "/", readBytes: -1, wantBody: "ok", reused: true},
		{name: "close-delimited", path: "/close-delimited", readBytes: -1, wantBody: "until EOF"},
		{name: "response Connection: close", path: "/connection-close", readBytes: -1, wantBody: "ok"},
		{name: "request Connection: close", path: "/", header: "close", readBytes: -1, wantBody: "ok"},
		{name: "closed before EOF", path: "/large", readBytes: 10, wantBody: "xxxxxxxxxx"},
	}
	for _, tt := range tests {
		tr := &Transport{}
		req, _ := http.NewRequest(http.MethodGet, s.url()+tt.path, nil)
		if tt.header != "" {
			req.Header.Set("Connection", tt.header)
		}
		res, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var b []byte
		if tt.readBytes < 0 {
			b, err = io.ReadAll(res.Body)
		} else {
			b = make([]byte, tt.readBytes)
			_, err = io.ReadFull(res.Body, b)
		}
		if err != nil || string(b) != tt.wantBody {
			t.Errorf("%s: body %q, %v", tt.name, b, err)
		}
		_ = res.Body.Close()
		if _, err := res.Body.Read(make([]byte, 1)); err == nil {
			t.Errorf("%s: Read after Close succeeded", tt.name)
		}
		if hosts, conns, idle := tr.poolState(); tt.reused != (idle == 1) || !tt.reused && (hosts != 0 || conns != 0) {
			t.Errorf("%s: pool %d hosts %d conns %d idle, reused want %v", tt.name, hosts, conns, idle, tt.reused)
		}
		tr.CloseIdleConnections()
		if hosts, _, _ := tr.poolState(); hosts != 0 {
			t.Errorf("%s: %d hosts kept after CloseIdleConnections", tt.name, hosts)
		}
	}
}

// TestStaleConnectionRetry: an upstream that closes keep-alive connections after each
// response (as nginx does at keepalive_timeout) costs no failed request: a replayable one is
// sent again on a new connection, and one that is not finds the idle connection dead first.
func TestStaleConnectionRetry(t *testing.T) {
	t.Parallel()
	closed := make(chan struct{}, 10)
	s := newRawServer(t, func(n int, c net.Conn) {
		br := bufio.NewReader(c)
		if _, _, err := readRequest(br); err != nil {
			return
		}
		// Keep-alive announced, then the connection is closed once the response is out.
		_, _ = fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n%d", n%10)
		_ = c.Close()
		closed <- struct{}{}
	})
	tr := &Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	for i := range 3 {
		if _, body := get(t, tr, s.url()); body == "" {
			t.Errorf("GET %d: empty body", i)
		}
		<-closed
	}
	if _, _, idle := tr.poolState(); idle != 1 {
		t.Fatalf("%d idle connections, want the closed one", idle)
	}
	res, err := tr.RoundTrip(mustRequest(t, http.MethodPost, s.url(), io.NopCloser(strings.NewReader("x")), 1))
	if err != nil {
		t.Fatalf("POST after the upstream closed: %v", err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	if n := s.conns.Load(); n != 4 {
		t.Errorf("%d connections for 4 requests", n)
	}
}

func TestNoRetryWhenNotReplayable(t *testing.T) {
	t.Parallel()
	// The upstream reads the request and closes without answering; the connection was reused.
	s := newRawServer(t, func(n int, c net.Conn) {
		br := bufio.NewReader(c)
		if _, _, err := readRequest(br); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		if _, _, err := readRequest(br); err != nil {
			return
		}
	})
	tr := &Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	get(t, tr, s.url())
	body := &countingBody{r: strings.NewReader("x")}
	_, err := tr.RoundTrip(mustRequest(t, http.MethodPost, s.url(), body, 1))
	if err == nil {
		t.Fatal("POST answered by nobody: no error")
	}
	if s.conns.Load() != 1 {
		t.Errorf("POST without GetBody was sent again on a new connection (%d connections)", s.conns.Load())
	}
	if !body.closed {
		t.Error("request body not closed")
	}
}

type countingBody struct {
	r      io.Reader
	closed bool
}

func (b *countingBody) Read(p []byte) (int, error) { return b.r.Read(p) }
func (b *countingBody) Close() error               { b.closed = true; return nil }

func mustRequest(t *testing.T, method, url string, body io.ReadCloser, length int64) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Body, req.ContentLength = body, length
	return req
}

// TestContextEnds covers a deadline or cancellation while waiting for headers and while
// reading the body: the error wraps the context's, and the connection is closed.
func TestContextEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, path string
		cancel     bool
		want       error
	}{
		{name: "deadline awaiting headers", path: "/headers", want: context.DeadlineExceeded},
		{name: "canceled awaiting headers", path: "/headers", cancel: true, want: context.Canceled},
		{name: "deadline reading body", path: "/body", want: context.DeadlineExceeded},
		{name: "canceled reading body", path: "/body", cancel: true, want: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			gotRequest := make(chan struct{}, 1)
			s := newRawServer(t, func(_ int, c net.Conn) {
				if _, _, err := readRequest(bufio.NewReader(c)); err != nil {
					return
				}
				if tt.path == "/body" {
					_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
				}
				gotRequest <- struct{}{}
				<-release
			})
			t.Cleanup(func() { close(release) })
			tr := &Transport{}
			ctx, cancel := context.WithCancel(context.Background())
			if !tt.cancel {
				ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
			}
			defer cancel()
			if tt.cancel {
				go func() {
					<-gotRequest
					cancel()
				}()
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url()+tt.path, nil)
			res, err := tr.RoundTrip(req)
			if err == nil {
				var b []byte
				b, err = io.ReadAll(res.Body)
				if string(b) != "half" {
					t.Errorf("body %q before the context ended", b)
				}
			}
			check(t, err, tt.want)
			assertEmpty(t, tr)
		})
	}
}

func check(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("error %v, want one wrapping %v", err, want)
	}
}

func assertEmpty(t *testing.T, tr *Transport) {
	t.Helper()
	if hosts, conns, idle := tr.poolState(); hosts+conns+idle != 0 {
		t.Errorf("pool keeps %d hosts %d conns %d idle", hosts, conns, idle)
	}
}

func TestDialErrors(t *testing.T) {
	t.Parallel()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	tr := &Transport{}
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr, nil)
	_, err := tr.RoundTrip(req)
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		t.Errorf("refused connection: %T %v, want *net.OpError dial", err, err)
	}
	assertEmpty(t, tr)

	type originationError struct{ error }
	want := &originationError{errors.New("bad certificate")}
	tr = &Transport{DialTLSContext: func(context.Context, string, string) (net.Conn, error) { return nil, want }}
	req, _ = http.NewRequest(http.MethodGet, "https://"+addr, nil)
	if _, err := tr.RoundTrip(req); err != want {
		t.Errorf("DialTLSContext error came back as %T %v", err, err)
	}
	assertEmpty(t, tr)
}

// TestRequestBodyReadError: the body's own error comes back unchanged, as the gateway maps
// *http.MaxBytesError to 413.
func TestRequestBodyReadError(t *testing.T) {
	t.Parallel()
	s := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) })
	tr := &Transport{}
	limited := http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(strings.NewReader(strings.Repeat("x", 100))), 10)
	_, err := tr.RoundTrip(mustRequest(t, http.MethodPost, s.URL, limited, -1))
	if mbe := new(http.MaxBytesError); !errors.As(err, &mbe) {
		t.Errorf("error %T %v, want *http.MaxBytesError", err, err)
	}
	assertEmpty(t, tr)
}

// TestMaxConnsPerHost: a second request waits for the first one's connection and reuses it;
// a waiter whose context ends gives up with the context's error.
func TestMaxConnsPerHost(t *testing.T) {
	t.Parallel()
	s := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	tr := &Transport{MaxConnsPerHost: 1}
	t.Cleanup(tr.CloseIdleConnections)
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	first, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	// The first response's body is unread: its connection is busy.
	req2, _ := http.NewRequestWithContext(withTimeout(t, 50*time.Millisecond), http.MethodGet, s.URL, nil)
	if _, err := tr.RoundTrip(req2); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiter past its deadline: %v", err)
	}
	done := make(chan string)
	go func() {
		req3, _ := http.NewRequest(http.MethodGet, s.URL, nil)
		res, err := tr.RoundTrip(req3)
		if err != nil {
			done <- err.Error()
			return
		}
		b, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		done <- string(b)
	}()
	waitFor(t, "the third request to queue", func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		for _, hp := range tr.hosts {
			return len(hp.waiters) == 1
		}
		return false
	})
	_, _ = io.ReadAll(first.Body)
	_ = first.Body.Close()
	if got := <-done; got != "ok" {
		t.Errorf("waiter got %q", got)
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("%d connections under MaxConnsPerHost 1", n)
	}
}

// TestIdleTimeout: idle connections close after IdleConnTimeout and their host leaves the map.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	s := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {})
	tr := &Transport{IdleConnTimeout: 20 * time.Millisecond}
	get(t, tr, s.URL)
	waitFor(t, "the idle connection to time out", func() bool {
		hosts, conns, _ := tr.poolState()
		return hosts == 0 && conns == 0
	})
	get(t, tr, s.URL)
	if n := s.conns.Load(); n != 2 {
		t.Errorf("%d connections, want a new one after the idle timeout", n)
	}
	tr.CloseIdleConnections()
}

// TestManyHosts: pools of hosts without connections are forgotten, so that dynamic
// forwarding to ever new hosts does not grow the transport.
func TestManyHosts(t *testing.T) {
	t.Parallel()
	s := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {})
	var d net.Dialer
	for _, keepAlive := range []bool{false, true} {
		tr := &Transport{DisableKeepAlives: !keepAlive, DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, s.Listener.Addr().String())
		}}
		for _, host := range []string{"a.test", "b.test", "c.test:8080"} {
			get(t, tr, "http://"+host)
		}
		if hosts, _, _ := tr.poolState(); keepAlive && hosts != 3 {
			t.Errorf("keep-alive: %d host pools, want 3", hosts)
		}
		tr.CloseIdleConnections()
		assertEmpty(t, tr)
	}
}

func TestResponseHeaderTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	s := newRawServer(t, func(_ int, c net.Conn) { <-release })
	t.Cleanup(func() { close(release) }) // before the server's cleanup waits for its handlers
	tr := &Transport{ResponseHeaderTimeout: 20 * time.Millisecond}
	req, _ := http.NewRequest(http.MethodGet, s.url(), nil)
	if _, err := tr.RoundTrip(req); !errors.Is(err, ErrResponseHeaderTimeout) {
		t.Errorf("error %v, want ErrResponseHeaderTimeout", err)
	}
	assertEmpty(t, tr)
}

func TestInvalidRequests(t *testing.T) {
	t.Parallel()
	tr := &Transport{}
	for _, raw := range []string{"ftp://example.com/", "http:///nohost"} {
		req, _ := http.NewRequest(http.MethodGet, raw, nil)
		if _, err := tr.RoundTrip(req); err == nil {
			t.Errorf("%s: no error", raw)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, "http://example.com/", nil)
	req.Method = "GET /x HTTP/1.1\r\n"
	if _, err := tr.RoundTrip(req); err == nil {
		t.Error("method with spaces: no error")
	}
	assertEmpty(t, tr)
}
