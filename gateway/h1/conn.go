package h1

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"strings"
	"sync"
	"time"
)

// conn is one upstream connection. Outside mu it is used by one request at a time: the pool
// hands it to one caller, who gives it back or closes it.
type conn struct {
	hp *hostPool
	nc net.Conn
	br *bufio.Reader
	bw *bufio.Writer

	idleAt time.Time
	// reused is set once the connection has carried a response: a later failure may be the
	// upstream having closed it while idle.
	reused bool
	// written counts the bytes written to nc, to tell whether a failed write sent anything;
	// werr is the last write error, to tell a connection failure from a request body's.
	written int64
	werr    error
	// readLimit bounds the bytes read while a response's headers are parsed.
	readLimit int64

	// cancelFn is cancel, bound once so that a request's context.AfterFunc does not allocate it.
	cancelFn func()
	mu       sync.Mutex
	canceled bool
}

// aLongTimeAgo is a deadline in the past: setting it fails any blocked or later I/O at once.
var aLongTimeAgo = time.Unix(1, 0)

var errHeaderTooLarge = errors.New("h1: response headers too large")

func newConn(hp *hostPool, nc net.Conn) *conn {
	c := &conn{hp: hp, nc: nc}
	c.br = bufio.NewReaderSize(c, 4<<10)
	c.bw = bufio.NewWriterSize(c, 4<<10)
	c.cancelFn = c.cancel
	c.readLimit = math.MaxInt64
	return c
}

func (c *conn) Read(p []byte) (int, error) {
	if c.readLimit <= 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > c.readLimit {
		p = p[:c.readLimit]
	}
	n, err := c.nc.Read(p)
	c.readLimit -= int64(n)
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	n, err := c.nc.Write(p)
	c.written += int64(n)
	if err != nil {
		c.werr = err
	}
	return n, err
}

// cancel runs when the request's context ends: every blocked read or write fails, and the
// connection is never reused.
func (c *conn) cancel() {
	c.mu.Lock()
	c.canceled = true
	_ = c.nc.SetDeadline(aLongTimeAgo)
	c.mu.Unlock()
}

// setReadDeadline sets a read deadline unless cancel has already set one in the past.
func (c *conn) setReadDeadline(d time.Time) {
	c.mu.Lock()
	if !c.canceled {
		_ = c.nc.SetReadDeadline(d)
	}
	c.mu.Unlock()
}

// dial opens a connection for key: TLS for https, refusing an ALPN protocol other than
// HTTP/1.1, since this client speaks nothing else.
func (t *Transport) dial(ctx context.Context, key hostKey) (net.Conn, error) {
	if !key.tls {
		return t.dialTCP(ctx, key.addr)
	}
	if t.DialTLSContext != nil {
		nc, err := t.DialTLSContext(ctx, "tcp", key.addr)
		if err != nil {
			return nil, err
		}
		if cs, ok := nc.(interface{ ConnectionState() tls.ConnectionState }); ok {
			if p := cs.ConnectionState().NegotiatedProtocol; p != "" && p != "http/1.1" {
				_ = nc.Close()
				return nil, fmt.Errorf("h1: %s negotiated ALPN %q, not http/1.1", key.addr, p)
			}
		}
		return nc, nil
	}
	raw, err := t.dialTCP(ctx, key.addr)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{}
	if t.TLSClientConfig != nil {
		cfg = t.TLSClientConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName, _, _ = net.SplitHostPort(key.addr)
	}
	if len(cfg.NextProtos) == 0 {
		cfg.NextProtos = []string{"http/1.1"}
	}
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = raw.Close()
		return nil, err
	}
	return tc, nil
}

var zeroDialer net.Dialer

func (t *Transport) dialTCP(ctx context.Context, addr string) (net.Conn, error) {
	if t.DialContext != nil {
		return t.DialContext(ctx, "tcp", addr)
	}
	return zeroDialer.DialContext(ctx, "tcp", addr)
}

// exchange writes out on c and reads the response to req (out is req, or its copy with a
// watched body). again reports a failure that a new connection may retry: c was reused, and
// either nothing was sent or the upstream sent nothing back to a replayable request.
func (t *Transport) exchange(ctx context.Context, c *conn, req, out *http.Request, rec *bodyRecorder) (res *http.Response, again bool, err error) {
	addr := c.hp.key.addr
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, c.cancelFn)
	}
	start := c.written
	werr := out.Write(c.bw)
	if werr == nil {
		werr = c.bw.Flush()
	}
	if werr != nil {
		switch {
		case ctx.Err() != nil:
			t.abandon(c, stop)
			return nil, false, ctxError(ctx, "writing request to", addr, werr)
		case rec != nil && rec.err != nil:
			t.abandon(c, stop)
			return nil, false, rec.err
		case c.werr == nil:
			// Request.Write refused the request itself (an invalid Host, a body shorter
			// than its ContentLength).
			t.abandon(c, stop)
			return nil, false, werr
		case c.written == start:
			t.abandon(c, stop)
			hasBody := out.Body != nil && out.Body != http.NoBody
			return nil, c.reused && (!hasBody || req.GetBody != nil), fmt.Errorf("h1: writing request to %s: %w", addr, werr)
		}
		// The upstream may have answered before it stopped reading (a 413 to a large
		// upload): its response, when already here, is worth more than the write error.
	}

	c.readLimit = t.maxHeaderBytes()
	if t.ResponseHeaderTimeout > 0 {
		c.setReadDeadline(time.Now().Add(t.ResponseHeaderTimeout))
	}
	res, first, rerr := t.readResponse(ctx, c, req)
	if rerr != nil {
		t.abandon(c, stop)
		switch {
		case ctx.Err() != nil:
			return nil, false, ctxError(ctx, "reading response from", addr, rerr)
		case werr != nil:
			// Part of the request went out and nothing came back: as after a read failure,
			// a replayable request may go again (an upstream that closed an idle connection
			// fails the second write, the body's, after accepting the headers').
			return nil, first && c.reused && replayable(req), fmt.Errorf("h1: writing request to %s: %w", addr, werr)
		case t.ResponseHeaderTimeout > 0 && errors.Is(rerr, os.ErrDeadlineExceeded):
			return nil, false, fmt.Errorf("%w from %s", ErrResponseHeaderTimeout, addr)
		}
		return nil, first && c.reused && replayable(req), fmt.Errorf("h1: reading response from %s: %w", addr, rerr)
	}
	c.readLimit = math.MaxInt64
	if t.ResponseHeaderTimeout > 0 {
		c.setReadDeadline(time.Time{})
	}

	if res.StatusCode == http.StatusSwitchingProtocols {
		// The connection now belongs to the caller, outside the pool and its limits, and the
		// request's context no longer bounds it (net/http detaches it the same way;
		// ReverseProxy watches the context itself).
		if stop != nil && !stop() {
			t.abandon(c, nil)
			return nil, false, ctxError(ctx, "reading response from", addr, errors.New("upgraded connection canceled"))
		}
		t.releaseSlot(c.hp)
		res.Body = &upgradeBody{c: c}
		return res, false, nil
	}
	keep := werr == nil && !t.DisableKeepAlives && !req.Close && !res.Close && !hasClose(req.Header)
	if res.Body == http.NoBody {
		t.finish(c, stop, keep)
		return res, false, nil
	}
	res.Body = &body{rc: res.Body, t: t, c: c, ctx: ctx, stop: stop, keep: keep}
	return res, false, nil
}

// readResponse reads the final response, skipping informational ones (reported to an
// httptrace Got1xxResponse hook, which ReverseProxy uses to forward them). first reports an
// error before any byte of a response arrived.
func (t *Transport) readResponse(ctx context.Context, c *conn, req *http.Request) (res *http.Response, first bool, err error) {
	var trace *httptrace.ClientTrace
	for n, seen := 0, false; ; seen = true {
		if _, err := c.br.Peek(1); err != nil {
			return nil, !seen, err
		}
		res, err := http.ReadResponse(c.br, req)
		if err != nil {
			return nil, false, err
		}
		code := res.StatusCode
		if code < 100 || code > 199 || code == http.StatusSwitchingProtocols {
			return res, false, nil
		}
		n++
		c.readLimit = t.maxHeaderBytes()
		if trace == nil {
			trace = httptrace.ContextClientTrace(ctx)
		}
		if trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(code, textproto.MIMEHeader(res.Header)); err != nil {
				return nil, false, err
			}
			// The hook's owner limits what it forwards.
			n = 0
			continue
		}
		if n > maxInformational {
			return nil, false, errors.New("too many 1xx informational responses")
		}
	}
}

func (t *Transport) maxHeaderBytes() int64 {
	if t.MaxResponseHeaderBytes > 0 {
		return t.MaxResponseHeaderBytes
	}
	return 10 << 20
}

// hasClose reports a Connection: close the caller put in the request's header itself.
func hasClose(h http.Header) bool {
	for _, v := range h["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "close") {
				return true
			}
		}
	}
	return false
}
