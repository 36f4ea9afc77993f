package demo

import (
	"net"
	"net/http"
	"strconv"
	"sync"
)

var jsonContentType = []string{"application/json"}

// bufferedBodyLimit is below the size net/http buffers whole before it would switch to chunked
// encoding; under it net/http sets Content-Length itself, so the hot path skips formatting one.
const bufferedBodyLimit = 2048

// maxPooledBytes keeps one large /anything body from pinning its buffer in the pool forever.
const maxPooledBytes = 64 << 10

// scratch holds the per-request buffers of the echo endpoints.
type scratch struct {
	buf  []byte
	body []byte
	keys []string
}

var scratchPool = sync.Pool{New: func() any { return &scratch{buf: make([]byte, 0, 1024)} }}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(s *scratch) {
	if cap(s.buf) > maxPooledBytes || cap(s.body) > maxPooledBytes {
		return
	}
	s.buf, s.body = s.buf[:0], s.body[:0]
	clear(s.keys)
	s.keys = s.keys[:0]
	scratchPool.Put(s)
}

// begin starts a response object that already holds the "backend" member.
func (b *backend) begin(s *scratch) jsonObject {
	return jsonObject{buf: append(s.buf[:0], b.prefix...), n: 1}
}

// finish appends the members every echo-like response carries, closes the object and writes it.
func (b *backend) finish(w http.ResponseWriter, r *http.Request, code int, s *scratch, o *jsonObject) {
	o.str("host", r.Host)
	o.str("protocol", r.Proto)
	o.buf = append(o.buf, '}', '\n')
	s.buf = o.buf
	writeJSON(w, code, o.buf)
}

func (b *backend) writeError(w http.ResponseWriter, r *http.Request, code int, msg string) {
	s := getScratch()
	defer putScratch(s)
	o := b.begin(s)
	o.str("error", msg)
	o.str("path", r.URL.EscapedPath())
	b.finish(w, r, code, s, &o)
}

func writeJSON(w http.ResponseWriter, code int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	if len(body) >= bufferedBodyLimit {
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
	}
	w.WriteHeader(code)
	// A write error means the client went away; there is no one left to tell.
	_, _ = w.Write(body)
}

// remoteHost is the peer's address as the socket reports it. Forwarding headers are client
// input and are reported separately, never trusted as the origin.
func remoteHost(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}
