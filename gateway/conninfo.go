package gateway

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/gatehouse-dev/gatehouse/gateway/clienthello"
)

// downstreamConn is a client connection whose ClientHello was peeked and is replayed to the TLS
// server, with what the handshake decided.
type downstreamConn struct {
	*clienthello.Conn
	chain      *FilterChain
	serverName string
	// local is the serving certificate chosen for the client, set during the handshake.
	local *tls.Certificate
}

// connInfo is what every request on a terminated TLS connection shares.
type connInfo struct {
	// chain is the latest filter chain with the settings the connection negotiated.
	chain      atomic.Pointer[FilterChain]
	serverName string
	local      *tls.Certificate
	peer       *Peer

	xfccOnce sync.Once
	xfcc     string // this connection's XFCC element, built on first use
}

type connKey struct{}

// connContext gives the requests of a terminated TLS connection its filter chain and peer, and
// those of a PROXY protocol connection its direct peer.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if p, ok := proxiedPeer(c); ok {
		ctx = context.WithValue(ctx, directPeerKey{}, p)
	}
	tc, ok := servedTLSConn(c)
	if !ok {
		return ctx
	}
	dc, ok := tc.NetConn().(*downstreamConn)
	if !ok {
		return ctx
	}
	local := dc.local
	if cc := dc.chain.config.Load(); local == nil && cc != nil && len(cc.certs) > 0 {
		// A resumed session chose no certificate; the chain's preferred one stands for it.
		local = cc.certs[0]
	}
	ci := &connInfo{serverName: dc.serverName, local: local, peer: newPeer(tc.ConnectionState())}
	ci.chain.Store(dc.chain)
	return context.WithValue(ctx, connKey{}, ci)
}

func connInfoFrom(ctx context.Context) *connInfo {
	ci, _ := ctx.Value(connKey{}).(*connInfo)
	return ci
}

// virtualHost selects the virtual host for a request on a TLS connection from the listener's
// current Table. Route changes apply to open connections, as Envoy's RDS updates do; a change of
// the connection's filter chain (its TLS settings, its server) does not: the request is served
// by the last chain with the settings it negotiated, and the connection is closed after it, as
// Envoy drains a filter chain it replaced.
func (ci *connInfo) virtualHost(l *Listener, host string, h http.Header) *VirtualHost {
	fc := ci.chain.Load()
	var cur *FilterChain
	if l != nil {
		cur = l.filterChain(ci.serverName)
	}
	switch {
	case cur == fc:
	case cur != nil && cur.id == fc.id:
		ci.chain.Store(cur)
		fc = cur
	default:
		h.Set("Connection", "close")
	}
	return fc.virtualHost(host)
}
