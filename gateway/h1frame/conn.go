package h1frame

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// ErrFraming is what a read returns after a chunked request body Go's chunked reader cannot
// parse either: nothing after it can be framed, so nothing after it is delivered.
var ErrFraming = errors.New("h1frame: malformed chunked request body")

// malformedLine is delivered in place of a rejected header block: a NUL is valid in no request
// line, header name or header value, so the server fails that request with its own 400 and
// closes the connection, without reading further. The blank line after it lets Go's header
// reader finish the line it is on without asking for more bytes.
const malformedLine = "\x00\r\n\r\n"

// Bounds of the lingering close after a rejection.
const (
	lingerTimeout = time.Second
	lingerBytes   = 64 << 10
)

// Conn is a server-side connection whose reads pass through a Sniffer. Writes, deadlines and
// the rest go to the connection unchanged.
//
// A rejected header block is never delivered: the server reads the requests before it, then a
// malformed line (and answers it with 400), then nothing: further reads wait for the client,
// discarding what it sends, until the connection's deadline or end. They do not return an error
// of their own: Go's server reads one byte in the background while a handler runs, and an error
// there would cancel the request before the rejected one.
type Conn struct {
	net.Conn
	sniffer  Sniffer
	onReject func(reason string)
	pending  int // bytes of malformedLine not yet delivered

	stopped  atomic.Bool
	rejected atomic.Bool
	lingered atomic.Bool
}

// New returns c with its request framing guarded; onReject, if not nil, is called once, on the
// reading goroutine, when a header block is rejected.
func New(c net.Conn, onReject func(reason string)) *Conn {
	return &Conn{Conn: c, onReject: onReject}
}

// StopSniffing makes every later read pass through unchanged. The gateway calls it when a
// handler hijacks the connection (an upgrade was accepted): its bytes are no longer HTTP/1.
// It must not run during a Read, which http.Server's Hijack ensures.
func (c *Conn) StopSniffing() { c.stopped.Store(true) }

// Rejected reports whether a header block was rejected.
func (c *Conn) Rejected() bool { return c.rejected.Load() }

func (c *Conn) Read(p []byte) (int, error) {
	switch {
	case c.stopped.Load():
		return c.Conn.Read(p)
	case c.rejected.Load():
		return c.afterReject(p)
	case c.sniffer.st == sBroken:
		return 0, ErrFraming
	}
	n, err := c.Conn.Read(p)
	if n == 0 {
		return n, err
	}
	k, v := c.sniffer.Scan(p[:n])
	switch v {
	case Reject:
		c.rejected.Store(true)
		c.pending = len(malformedLine)
		if c.onReject != nil {
			c.onReject(c.sniffer.Reason())
		}
		return k + c.inject(p[k:]), nil
	case Broken:
		return k, nil
	}
	return k, err
}

func (c *Conn) inject(p []byte) int {
	n := copy(p, malformedLine[len(malformedLine)-c.pending:])
	c.pending -= n
	return n
}

func (c *Conn) afterReject(p []byte) (int, error) {
	if c.pending > 0 {
		return c.inject(p), nil
	}
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if _, err := c.Conn.Read(p); err != nil {
			return 0, err
		}
	}
}

// Close closes the connection. After a rejection it first lingers, as Envoy's delayed close
// does after a protocol error: it half-closes and discards what the client still sends, for a
// bounded time, so that the kernel does not reset a connection with unread data and the reset
// overtake the 400.
func (c *Conn) Close() error {
	if c.rejected.Load() && c.lingered.CompareAndSwap(false, true) {
		if c.CloseWrite() == nil {
			_ = c.Conn.SetReadDeadline(time.Now().Add(lingerTimeout))
			_, _ = io.Copy(io.Discard, io.LimitReader(c.Conn, lingerBytes))
		}
	}
	return c.Conn.Close()
}

// CloseWrite half-closes the connection, as net/http does before closing after some errors.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// NetConn returns the connection Conn reads from.
func (c *Conn) NetConn() net.Conn { return c.Conn }
