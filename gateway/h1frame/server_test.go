package h1frame

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// framedListener wraps what it accepts, as the gateway does.
type framedListener struct{ net.Listener }

func (l framedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return New(c, nil), nil
}

// TestServerAnswers400 runs Go's http.Server behind Conn: a rejected request gets Go's 400 and
// never reaches the handler; the pipelined request before it is served in full.
func TestServerAnswers400(t *testing.T) {
	t.Parallel()
	var served atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		body, _ := io.ReadAll(r.Body)
		// A context the rejected request after this one must not cancel.
		if r.Context().Err() != nil {
			http.Error(w, "canceled", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, r.URL.Path+" "+string(body))
	})}
	go func() { _ = srv.Serve(framedListener{ln}) }()
	t.Cleanup(func() { _ = srv.Close() })

	const bad = "POST /smuggle HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n"
	tests := []struct {
		name, send string
		want       []string // status and body of each response, in order
	}{
		{"CL and TE", bad, []string{"400 400 Bad Request"}},
		{"after a pipelined request", "POST /first HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n" + bad,
			[]string{"200 /first ok", "400 400 Bad Request"}},
		{"unsupported coding keeps Go's 501", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
			[]string{"501 Unsupported transfer encoding"}},
	}
	for _, tt := range tests {
		before := served.Load()
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		// A hang guard, not a timing assertion.
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(conn, tt.send); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		var got []string
		for {
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				break
			}
			body, _ := io.ReadAll(res.Body)
			got = append(got, res.Status[:3]+" "+string(body))
		}
		_ = conn.Close()
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("%s: responses %q, want %q", tt.name, got, tt.want)
		}
		wantServed := 0
		for _, w := range tt.want {
			if strings.HasPrefix(w, "200") {
				wantServed++
			}
		}
		if n := served.Load() - before; n != int64(wantServed) {
			t.Errorf("%s: handler ran %d times, want %d", tt.name, n, wantServed)
		}
	}
}
