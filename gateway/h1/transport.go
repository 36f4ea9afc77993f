package h1

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Transport is an HTTP/1.1 http.RoundTripper for a proxy. Its zero value dials with a zero
// net.Dialer and keeps two idle connections per host, as net/http's Transport does. Its
// fields must not change once it has sent a request.
type Transport struct {
	// DialContext opens plaintext connections, and the TCP connection under TLS when
	// DialTLSContext is nil. Its errors are returned unchanged.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// DialTLSContext opens connections for https URLs, handshake included. Its errors are
	// returned unchanged. A connection that negotiated an ALPN protocol other than http/1.1
	// is refused.
	DialTLSContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLSClientConfig is used for https URLs when DialTLSContext is nil; ServerName defaults
	// to the URL's host.
	TLSClientConfig *tls.Config
	// MaxIdleConnsPerHost bounds the idle pool of each host: zero means 2 (net/http's
	// default), negative means none.
	MaxIdleConnsPerHost int
	// IdleConnTimeout closes connections idle for longer; zero keeps them.
	IdleConnTimeout time.Duration
	// MaxConnsPerHost bounds the connections to a host, dialing, in use and idle; a request
	// over it waits for one, until its context ends. Zero means no limit.
	MaxConnsPerHost int
	// DisableKeepAlives sends every request with Connection: close on its own connection.
	DisableKeepAlives bool
	// ResponseHeaderTimeout, when positive, bounds the wait for response headers after the
	// request is written.
	ResponseHeaderTimeout time.Duration
	// MaxResponseHeaderBytes bounds a response's header block; zero means 10 MiB, as
	// net/http's default.
	MaxResponseHeaderBytes int64

	mu    sync.Mutex
	hosts map[hostKey]*hostPool
}

var _ http.RoundTripper = (*Transport)(nil)

// ErrResponseHeaderTimeout is returned when ResponseHeaderTimeout passed before the upstream
// answered.
var ErrResponseHeaderTimeout = errors.New("h1: timeout awaiting response headers")

// maxInformational is how many 1xx responses are skipped before one is an error, unless an
// httptrace Got1xxResponse hook takes them (as httputil.ReverseProxy's does), as net/http.
const maxInformational = 5

// RoundTrip sends req on a pooled connection, or a new one, and returns its response. A
// request that failed on a reused connection before the upstream could have acted on it is
// sent once more on a new connection, as net/http does for keep-alive connections the
// upstream closed while idle.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	key, err := keyFor(req)
	if err != nil {
		closeBody(req.Body)
		return nil, err
	}
	ctx := req.Context()
	body := req.Body
	if body == http.NoBody {
		body = nil
	}
	// A request that cannot be replayed is not sent on a connection the upstream has closed
	// while it was idle, when that can be told without blocking.
	probe := !replayable(req)
	for retried := false; ; retried = true {
		c, err := t.getConn(ctx, key, retried, probe)
		if err != nil {
			closeBody(body)
			return nil, err
		}
		out, rec := t.outgoing(req, body)
		res, again, err := t.exchange(ctx, c, req, out, rec)
		if err == nil {
			return res, nil
		}
		if !again || retried {
			return nil, err
		}
		if body != nil {
			if body, err = req.GetBody(); err != nil {
				return nil, fmt.Errorf("h1: replaying request body: %w", err)
			}
		}
	}
}

// outgoing is the request as written: a copy when its body must be watched for read errors
// (net/http hides them in an unexported type that the gateway could not classify) or when
// DisableKeepAlives must ask for Connection: close. One allocation holds both.
type outgoing struct {
	req  http.Request
	body bodyRecorder
}

func (t *Transport) outgoing(req *http.Request, body io.ReadCloser) (*http.Request, *bodyRecorder) {
	closing := t.DisableKeepAlives && !req.Close
	if body == nil && !closing {
		return req, nil
	}
	o := &outgoing{req: *req}
	o.req.Close = o.req.Close || t.DisableKeepAlives
	if body == nil {
		return &o.req, nil
	}
	o.body.rc = body
	o.req.Body = &o.body
	return &o.req, &o.body
}

// bodyRecorder keeps the request body's read error so it reaches the caller as it was (a
// *http.MaxBytesError stays one).
type bodyRecorder struct {
	rc  io.ReadCloser
	err error
}

func (b *bodyRecorder) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

func (b *bodyRecorder) Close() error { return b.rc.Close() }

func closeBody(b io.ReadCloser) {
	if b != nil && b != http.NoBody {
		_ = b.Close()
	}
}

// keyFor names the pool a request goes to: the scheme's security and the dial address, with
// the scheme's default port when the URL has none.
func keyFor(req *http.Request) (hostKey, error) {
	switch {
	case req.URL == nil:
		return hostKey{}, errors.New("h1: request has no URL")
	case req.Header == nil:
		return hostKey{}, errors.New("h1: request has no Header")
	case req.URL.Host == "":
		return hostKey{}, fmt.Errorf("h1: %q: no host in URL", req.URL.String())
	case !validMethod(req.Method):
		return hostKey{}, fmt.Errorf("h1: invalid method %q", req.Method)
	}
	var k hostKey
	port := "80"
	switch req.URL.Scheme {
	case "http":
	case "https":
		k.tls, port = true, "443"
	default:
		return hostKey{}, fmt.Errorf("h1: %q: unsupported scheme %q", req.URL.Host, req.URL.Scheme)
	}
	k.addr = req.URL.Host
	if req.URL.Port() == "" {
		k.addr = net.JoinHostPort(req.URL.Hostname(), port)
	}
	return k, nil
}

// validMethod reports whether m is an RFC 9110 token (empty means GET), so that a method can
// never end the request line early.
func validMethod(m string) bool {
	for i := 0; i < len(m); i++ {
		c := m[i]
		if c <= ' ' || c >= 0x7f || c == '(' || c == ')' || c == '<' || c == '>' || c == '@' || c == ',' ||
			c == ';' || c == ':' || c == '\\' || c == '"' || c == '/' || c == '[' || c == ']' || c == '?' ||
			c == '=' || c == '{' || c == '}' {
			return false
		}
	}
	return true
}

// replayable reports whether the upstream may safely see req twice, as net/http decides: its
// body can be sent again and its method is idempotent or it carries an idempotency key.
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, key := req.Header["Idempotency-Key"]
	_, xkey := req.Header["X-Idempotency-Key"]
	return key || xkey
}

// ctxError wraps the context's error, so that errors.Is finds context.DeadlineExceeded or
// context.Canceled, with the I/O error it caused for the log.
func ctxError(ctx context.Context, what string, addr string, err error) error {
	return fmt.Errorf("h1: %s %s: %w (%v)", what, addr, ctx.Err(), err)
}
