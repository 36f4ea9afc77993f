package h1frame

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
)

// chunkConn is a client that sent data, read by the server step bytes at a time.
type chunkConn struct {
	net.Conn
	data []byte
	step int
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.step)], c.data)
	c.data = c.data[n:]
	return n, nil
}

func (c *chunkConn) Close() error { return nil }

// result is what a server reading through Conn got.
type result struct {
	delivered []byte // without the malformed line
	rejected  bool
	reason    string
	err       error // the error that ended reading
}

func serve(data []byte, step int) result {
	var r result
	c := New(&chunkConn{data: data, step: step}, func(reason string) { r.reason = reason })
	buf := make([]byte, 4096)
	var got []byte
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			r.err = err
			break
		}
	}
	r.rejected = c.Rejected()
	if r.rejected {
		if !bytes.HasSuffix(got, []byte(malformedLine)) {
			panic("a rejection did not end in the malformed line")
		}
		got = got[:len(got)-len(malformedLine)]
	}
	r.delivered = got
	return r
}

var steps = []int{1, 2, 3, 7, 64, 1 << 20}

func TestConnDeliversWellFramedRequests(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in string }{
		{"one GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"},
		{"pipelined, bare LF line ends", "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\nHost: a\n\n"},
		{"Content-Length body that looks like headers",
			"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 52\r\n\r\n" +
				"Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n\r\n" +
				"GET / HTTP/1.1\r\nHost: a\r\n\r\n"},
		{"chunked with extensions and trailers, then a request",
			"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
				"5;name=\"v;x\"\r\nhello\r\n1C \t\r\nContent-Length: 5\r\nTransfer-\r\n0\r\nX-Trailer: 1\r\nContent-Length: 2\r\n\r\n" +
				"GET / HTTP/1.1\r\nHost: a\r\n\r\n"},
		{"CRLF after a POST body", "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nab\r\nGET / HTTP/1.1\r\n\r\n"},
		{"equal Content-Lengths", "POST / HTTP/1.1\r\nContent-Length: 2\r\ncontent-length:  2 \r\n\r\nab"},
		{"Transfer-Encoding on HTTP/1.1 alone", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
		{"names that only start like framing headers", "GET / HTTP/1.1\r\nContent-Length-X: 1\r\nTransfer-Encodings: chunked\r\nContent: 1\r\n\r\n"},
		{"Upgrade request framed as usual", "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"},
		{"HTTP/2 prior knowledge passes through",
			"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"},
	}
	for _, tt := range tests {
		for _, step := range steps {
			r := serve([]byte(tt.in), step)
			if r.rejected || string(r.delivered) != tt.in || r.err != io.EOF {
				t.Errorf("%s (reads of %d): rejected=%v (%s) err=%v, delivered %q", tt.name, step, r.rejected, r.reason, r.err, r.delivered)
			}
		}
	}
}

func TestConnRejectsAmbiguousFraming(t *testing.T) {
	t.Parallel()
	const first = "GET /first HTTP/1.1\r\nHost: a\r\n\r\n"
	const chunked = "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
	tests := []struct {
		name, before, block, reason string
	}{
		{"CL then TE", "", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", ReasonCLAndTE},
		{"TE then CL, odd case", "", "POST / HTTP/1.1\r\ntransfer-ENCODING: chunked\r\nCONTENT-length: 0\r\n\r\n", ReasonCLAndTE},
		{"TE in two lines", "", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", ReasonCLAndTE},
		{"whitespace before the colon", "", "POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\nContent-Length: 3\r\n\r\n", ReasonCLAndTE},
		{"tab before the colon", "", "POST / HTTP/1.1\r\nContent-Length\t: 3\r\nTransfer-Encoding:chunked\r\n\r\n", ReasonCLAndTE},
		{"TE hidden in an obs-fold line", "", "POST / HTTP/1.1\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", ReasonCLAndTE},
		{"CL value folded", "", "POST / HTTP/1.1\r\nContent-Length:\r\n 3\r\n\r\n", ReasonFoldedFrame},
		{"TE on HTTP/1.0", "", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", ReasonTEOnHTTP10},
		{"differing CLs", "", "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", ReasonBadCL},
		{"signed CL", "", "POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\n", ReasonBadCL},
		{"empty CL", "", "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", ReasonBadCL},
		{"CL over int64", "", "POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n", ReasonBadCL},
		{"TE+CL in the second pipelined request", first, "POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", ReasonCLAndTE},
		{"TE+CL after a chunked request", chunked, "POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", ReasonCLAndTE},
		{"TE+CL after a Content-Length body", "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", "GET / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", ReasonCLAndTE},
	}
	for _, tt := range tests {
		in := tt.before + tt.block + "0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n"
		// The block's final LF must never be delivered.
		end := len(tt.before) + len(tt.block) - 1
		for _, step := range steps {
			r := serve([]byte(in), step)
			n := len(r.delivered)
			if !r.rejected || r.reason != tt.reason || n < len(tt.before) || n > end || !strings.HasPrefix(in, string(r.delivered)) {
				t.Errorf("%s (reads of %d): rejected=%v (%q), delivered %q", tt.name, step, r.rejected, r.reason, r.delivered)
			}
			if r.err != io.EOF {
				t.Errorf("%s (reads of %d): reads after the rejection ended with %v, want the client's EOF", tt.name, step, r.err)
			}
		}
	}
}

func TestConnStopsAtChunkedCodingErrors(t *testing.T) {
	t.Parallel()
	const head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	for _, body := range []string{
		"5x\r\nhello\r\n0\r\n\r\n",   // not hex
		"5 ;x\r\nhello\r\n0\r\n\r\n", // whitespace before an extension
		"5\nhello\r\n0\r\n\r\n",      // bare LF
		"5\r\nhelloX\r\n0\r\n\r\n",   // data longer than its size
		"00000000000000005\r\nhello\r\n0\r\n\r\n",
	} {
		in := head + body + "GET / HTTP/1.1\r\n\r\n"
		for _, step := range steps {
			r := serve([]byte(in), step)
			if !errors.Is(r.err, ErrFraming) || r.rejected || !strings.HasPrefix(in, string(r.delivered)) || len(r.delivered) >= len(head)+len(body) {
				t.Errorf("%q (reads of %d): err=%v, delivered %q", body, step, r.err, r.delivered)
			}
		}
	}
}

func TestConnStopSniffingAfterHijack(t *testing.T) {
	t.Parallel()
	const upgrade = "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n"
	const tunnel = "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
	client := &chunkConn{data: []byte(upgrade), step: 4096}
	c := New(client, nil)
	buf := make([]byte, 4096)
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != upgrade {
		t.Fatalf("first read = %q, %v", buf[:n], err)
	}
	c.StopSniffing()
	client.data = []byte(tunnel)
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != tunnel {
		t.Errorf("read after StopSniffing = %q, %v; want the tunnel's bytes unchanged", buf[:n], err)
	}
}
