package gateway

import (
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// maxHeaderBytes is Envoy's default max_request_headers_kb (60 KiB). Go counts the request line
// and every header line against it (Envoy counts header bytes only) and answers 431 beyond it,
// on HTTP/1.1 and, through SETTINGS_MAX_HEADER_LIST_SIZE, on HTTP/2.
const maxHeaderBytes = 60 << 10

func downstreamDefaults(s policy.DownstreamSettings) policy.DownstreamSettings {
	d := policy.DefaultSettings().Downstream
	if s.HeaderTimeout <= 0 {
		s.HeaderTimeout = d.HeaderTimeout
	}
	if s.IdleTimeout <= 0 {
		s.IdleTimeout = d.IdleTimeout
	}
	if s.MaxConcurrentStreams <= 0 {
		s.MaxConcurrentStreams = d.MaxConcurrentStreams
	}
	return s
}

// newHTTPServer is a listener's downstream HTTP server. Go's server already rejects what Envoy's
// codecs reject and this package relies on it: a request with both Content-Length and
// Transfer-Encoding, or with conflicting Content-Lengths, gets 400 (request smuggling); an
// HTTP/2 client resetting streams faster than handlers finish is limited to
// MaxConcurrentStreams running handlers and then disconnected (CVE-2023-44487, rapid reset).
func newHTTPServer(h http.Handler, s policy.DownstreamSettings, protocols *http.Protocols) *http.Server {
	return &http.Server{
		Handler:           h,
		Protocols:         protocols,
		MaxHeaderBytes:    maxHeaderBytes,
		ReadHeaderTimeout: s.HeaderTimeout.Std(),
		IdleTimeout:       s.IdleTimeout.Std(),
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: s.MaxConcurrentStreams},
		ConnContext:       connContext,
	}
}

// connLimit caps the open connections of one listener, as Envoy's connection limit does: a
// connection over the cap is closed at once.
type connLimit struct {
	max  int64
	open atomic.Int64
}

// admit returns the connection to serve, counted until it is closed, or nil (after closing it)
// when the listener is full. An unlimited listener serves connections unwrapped, so proxied
// TCP keeps splicing.
func (l *connLimit) admit(c net.Conn) net.Conn {
	if l.max <= 0 {
		return c
	}
	if l.open.Add(1) > l.max {
		l.open.Add(-1)
		_ = c.Close()
		return nil
	}
	return &limitedConn{Conn: c, limit: l}
}

// limitedConn gives its slot back when closed, once.
type limitedConn struct {
	net.Conn
	limit *connLimit
	once  sync.Once
}

func (c *limitedConn) Close() error {
	c.once.Do(func() { c.limit.open.Add(-1) })
	return c.Conn.Close()
}

// CloseWrite keeps half-close working through the wrapper.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// limitBody answers 413 for a request whose declared body is over max, and caps the body of
// one that declares none (chunked), which proxyError then answers with 413. ok=false: answered.
func limitBody(w http.ResponseWriter, r *http.Request, max int64) bool {
	if max <= 0 {
		return true
	}
	if r.ContentLength > max {
		w.Header().Set("Connection", "close")
		localReply(w, http.StatusRequestEntityTooLarge, bodyPayloadTooLarge)
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, max)
	return true
}
