package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"time"

	"github.com/gatehouse-dev/gatehouse/gateway/clienthello"
	"github.com/gatehouse-dev/gatehouse/gateway/proxyproto"
)

// accept runs a listener's accept loop until its socket is closed.
func (g *Gateway) accept(l *listener) {
	var backoff time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if l.stopping.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off and retry, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			g.log.Warn("gateway accept failed; retrying", "address", l.addr, "error", err, "retryIn", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if c = l.limit.admit(c); c != nil {
			g.dispatch(l, c)
		}
	}
}

// dispatch serves a new connection as the current Table says its port is served.
func (g *Gateway) dispatch(l *listener, c net.Conn) {
	var tl *Listener
	if t := g.table.Load(); t != nil {
		tl = t.listener(l.key)
	}
	if tl == nil {
		_ = c.Close()
		return
	}
	if tl.ProxyProtocol {
		// The header is read off the accept loop, within the listener filter timeout.
		l.conns.serve(c, func(ctx context.Context) {
			pc, err := proxyproto.Accept(c, time.Now().Add(g.opts.ClientHelloTimeout))
			if err != nil {
				g.log.Debug("gateway connection without a valid PROXY protocol header closed", "remote", c.RemoteAddr().String(), "error", err)
				_ = c.Close()
				return
			}
			g.serveConn(ctx, l, tl, pc)
		})
		return
	}
	if tl.Permissive {
		l.conns.serve(c, func(ctx context.Context) { g.servePermissive(ctx, l, tl, c) })
		return
	}
	switch tl.Protocol {
	case "TLS":
		l.conns.serve(c, func(ctx context.Context) { g.serveTLS(ctx, l, tl, c) })
	case "TCP":
		l.conns.serve(c, func(ctx context.Context) { g.proxyL4(ctx, c, nil, tl.TCPRoute, kindTCP, "") })
	default:
		l.handoff.deliver(g.framed(c))
	}
}

// serveConn serves a connection whose PROXY protocol header has been read, in the goroutine that
// read it.
func (g *Gateway) serveConn(ctx context.Context, l *listener, tl *Listener, c net.Conn) {
	switch {
	case tl.Permissive:
		g.servePermissive(ctx, l, tl, c)
	case tl.Protocol == "TLS":
		g.serveTLS(ctx, l, tl, c)
	case tl.Protocol == "TCP":
		g.proxyL4(ctx, c, nil, tl.TCPRoute, kindTCP, "")
	default:
		l.handoff.deliver(g.framed(c))
	}
}

// serveTLS peeks the ClientHello, selects the filter chain by SNI, and passes the connection
// through or terminates it. A connection no chain takes is closed before any byte is written,
// so the client gets no certificate, as from Envoy.
func (g *Gateway) serveTLS(ctx context.Context, l *listener, tl *Listener, raw net.Conn) {
	start := time.Now()
	hello, prefix, err := clienthello.Peek(raw, start.Add(g.opts.ClientHelloTimeout))
	if err != nil {
		g.handshakeFailed(raw, peekReason(err), "", err)
		return
	}
	g.serveHello(ctx, l, tl, raw, hello, prefix, start)
}

// serveHello serves a TLS connection whose ClientHello has been peeked (prefix holds the bytes
// read): the rest of serveTLS, shared with the PERMISSIVE port's mesh mTLS.
func (g *Gateway) serveHello(ctx context.Context, l *listener, tl *Listener, raw net.Conn, hello clienthello.Hello, prefix []byte, start time.Time) {
	sni := normalizeServerName(hello.ServerName)
	if g.acmeTLSALPN(raw, hello, prefix, sni) {
		return
	}
	fc := tl.filterChain(sni)
	if fc == nil {
		g.handshakeFailed(raw, reasonNoMatchingSNI, sni, nil)
		return
	}
	if fc.passthrough() {
		_ = raw.SetReadDeadline(time.Time{})
		g.proxyL4(ctx, raw, prefix, fc.Route, kindPassthrough, sni)
		return
	}
	cfg, err := g.tlsConfig(fc, start)
	if err != nil {
		g.handshakeFailed(raw, handshakeReason(err), sni, err)
		return
	}
	dc := &downstreamConn{Conn: clienthello.Replay(raw, prefix), chain: fc, serverName: sni}
	_ = raw.SetDeadline(time.Now().Add(g.opts.ClientHelloTimeout))
	tc := tls.Server(dc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		g.handshakeFailed(raw, handshakeReason(err), sni, err)
		return
	}
	_ = raw.SetDeadline(time.Time{})
	resumed := "false"
	if tc.ConnectionState().DidResume {
		resumed = "true"
	}
	g.metrics.handshakes.WithLabelValues(resumed).Inc()
	if fc.servesHTTP() {
		l.handoff.deliver(g.framed(tc))
		return
	}
	g.proxyL4(ctx, tc, nil, fc.Route, kindTLS, sni)
}

// handshakeFailed counts and closes a connection whose handshake did not complete.
func (g *Gateway) handshakeFailed(raw net.Conn, reason, sni string, err error) {
	g.metrics.handshakeErrors.WithLabelValues(reason).Inc()
	g.log.Debug("gateway TLS handshake failed", "remote", raw.RemoteAddr().String(), "sni", sni, "reason", reason, "error", err)
	lingeringClose(raw)
}

// Bounds of lingeringClose.
const (
	lingerTimeout = time.Second
	lingerBytes   = 64 << 10
)

// lingeringClose sends FIN after what was written (a TLS alert), then reads and discards what
// the client still sends before closing. Closing a socket with unread data makes the kernel
// reset the connection, and a reset can overtake the alert: a TLS 1.3 client, which sends its
// first request before the server has looked at its certificate, would report a reset instead
// of "certificate required".
func lingeringClose(c net.Conn) {
	defer c.Close()
	tc, ok := c.(interface {
		net.Conn
		CloseWrite() error
	})
	if !ok || tc.CloseWrite() != nil {
		return
	}
	_ = tc.SetReadDeadline(time.Now().Add(lingerTimeout))
	_, _ = io.Copy(io.Discard, io.LimitReader(tc, lingerBytes))
}
