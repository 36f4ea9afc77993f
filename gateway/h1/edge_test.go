package h1

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestEarlyResponse: an upstream that answers a large upload without reading it (a 413) and
// closes gets its answer through, not the write error its close causes.
func TestEarlyResponse(t *testing.T) {
	t.Parallel()
	s := newRawServer(t, func(_ int, c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil { // headers only
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbig")
		_ = c.(*net.TCPConn).CloseWrite()
		// Read a little more, then close with the rest unread: the client's write fails.
		_, _ = br.Read(make([]byte, 1024))
	})
	tr := &Transport{}
	const size = 16 << 20
	res, err := tr.RoundTrip(mustRequest(t, http.MethodPost, s.url(), io.NopCloser(strings.NewReader(strings.Repeat("x", size))), size))
	if err != nil {
		t.Fatalf("upload answered early: %v", err)
	}
	b, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge || string(b) != "big" {
		t.Errorf("%d %q", res.StatusCode, b)
	}
	assertEmpty(t, tr)
}

func TestAlive(t *testing.T) {
	t.Parallel()
	closed := make(chan struct{})
	done := make(chan struct{})
	s := newRawServer(t, func(n int, c net.Conn) {
		if n == 1 {
			<-done
			return
		}
		_ = c.Close()
		close(closed)
	})
	open, err := net.Dial("tcp", s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if !alive(open) {
		t.Error("open idle connection reported dead")
	}
	close(done)
	shut, err := net.Dial("tcp", s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer shut.Close()
	<-closed
	waitFor(t, "the FIN to be seen", func() bool { return !alive(shut) })
}

func TestALPNMismatch(t *testing.T) {
	t.Parallel()
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	s.EnableHTTP2 = true
	s.StartTLS()
	t.Cleanup(s.Close)
	tr := &Transport{DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := net.Dial(network, addr)
		if err != nil {
			return nil, err
		}
		c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
		return c, c.HandshakeContext(ctx)
	}}
	req, _ := http.NewRequest(http.MethodGet, s.URL, nil)
	if _, err := tr.RoundTrip(req); err == nil || !strings.Contains(err.Error(), `"h2"`) {
		t.Errorf("h2 negotiated: %v", err)
	}
	assertEmpty(t, tr)
}

// TestReplayWithGetBody: a request with an idempotency key and GetBody is sent again, body
// and all, when its reused connection turns out closed.
func TestReplayWithGetBody(t *testing.T) {
	t.Parallel()
	closed := make(chan struct{}, 4)
	bodies := make(chan string, 4)
	s := newRawServer(t, func(_ int, c net.Conn) {
		_, body, err := readRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		bodies <- body
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		_ = c.Close()
		closed <- struct{}{}
	})
	tr := &Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	get(t, tr, s.url())
	<-closed
	<-bodies
	req, _ := http.NewRequest(http.MethodPost, s.url(), strings.NewReader("payload"))
	req.Header.Set("Idempotency-Key", "k1")
	res, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("POST with Idempotency-Key on a closed connection: %v", err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	if got := <-bodies; got != "payload" {
		t.Errorf("replayed body %q", got)
	}
}

// TestSlots: MaxIdleConnsPerHost closes what the pool cannot keep, and a connection closed
// under MaxConnsPerHost hands its slot to the request waiting.
func TestSlots(t *testing.T) {
	t.Parallel()
	s := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		_, _ = io.WriteString(w, "ok")
	})
	tr := &Transport{MaxIdleConnsPerHost: 1}
	a, _ := tr.RoundTrip(mustRequest(t, http.MethodGet, s.URL, nil, 0))
	b, _ := tr.RoundTrip(mustRequest(t, http.MethodGet, s.URL, nil, 0))
	for _, res := range []*http.Response{a, b} {
		_, _ = io.ReadAll(res.Body)
		_ = res.Body.Close()
	}
	if _, conns, idle := tr.poolState(); conns != 1 || idle != 1 {
		t.Errorf("MaxIdleConnsPerHost 1: %d conns %d idle", conns, idle)
	}
	tr.CloseIdleConnections()

	tr = &Transport{MaxConnsPerHost: 1}
	t.Cleanup(tr.CloseIdleConnections)
	first, err := tr.RoundTrip(mustRequest(t, http.MethodGet, s.URL+"/close", nil, 0))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		res, err := tr.RoundTrip(mustRequest(t, http.MethodGet, s.URL, nil, 0))
		if err == nil {
			_, err = io.ReadAll(res.Body)
			_ = res.Body.Close()
		}
		done <- err
	}()
	waitFor(t, "the second request to queue", func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		for _, hp := range tr.hosts {
			return len(hp.waiters) == 1
		}
		return false
	})
	_, _ = io.ReadAll(first.Body)
	_ = first.Body.Close()
	if err := <-done; err != nil {
		t.Errorf("waiter given the closed connection's slot: %v", err)
	}
}
