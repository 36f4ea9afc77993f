package gateway

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/gatehouse-dev/gatehouse/gateway/h1frame"
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

// newHTTPServer is a listener's downstream HTTP server. Go's server already rejects most of what
// Envoy's codecs reject and this package relies on it: conflicting Content-Lengths get 400, a
// transfer coding other than chunked 501 (a request with both Content-Length and
// Transfer-Encoding, which Go would serve, is stopped below it by framed); an HTTP/2 client resetting streams faster than handlers finish is limited to
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

// framed guards the HTTP/1 request framing of a connection handed to the http.Server (see
// h1frame): Envoy answers a request with both Content-Length and Transfer-Encoding with 400, Go's
// server would serve it. A TLS connection that negotiated h2 is handed over as it is: its
// requests are HTTP/2 frames, and net/http serves HTTP/2 only on a *tls.Conn.
func (g *Gateway) framed(c net.Conn) net.Conn {
	onReject := func(reason string) {
		g.log.Debug("gateway rejected an HTTP/1 request with ambiguous framing", "remote", c.RemoteAddr().String(), "details", reason)
	}
	tc, ok := c.(*tls.Conn)
	if !ok {
		return h1frame.New(c, onReject)
	}
	if tc.ConnectionState().NegotiatedProtocol == "h2" {
		return tc
	}
	return &framedTLSConn{Conn: h1frame.New(tc, onReject), tls: tc}
}

// framedTLSConn is a terminated TLS connection serving HTTP/1 through h1frame. net/http takes
// Request.TLS from ConnectionState on a connection that is not a *tls.Conn.
type framedTLSConn struct {
	*h1frame.Conn
	tls *tls.Conn
}

func (c *framedTLSConn) ConnectionState() tls.ConnectionState { return c.tls.ConnectionState() }

// servedTLSConn returns the terminated TLS connection the http.Server serves as c.
func servedTLSConn(c net.Conn) (*tls.Conn, bool) {
	switch c := c.(type) {
	case *tls.Conn:
		return c, true
	case *framedTLSConn:
		return c.tls, true
	}
	return nil, false
}
