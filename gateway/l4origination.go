package gateway

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	"github.com/gatehouse-dev/gatehouse/gateway/accesslog"
)

// The ALPN of an upstream TLS context that no HTTP filter overrides, as Istio builds it
// (buildUpstreamTLSContext): a tcp proxy has no istio.alpn filter, so the cluster's own list
// goes on the wire. ISTIO_MUTUAL offers "istio-peer-exchange" (TCP metadata exchange) and
// "istio", which select the mTLS TCP filter chain of an Istio inbound listener; SIMPLE and
// MUTUAL offer nothing (ClientTLSSettings has no ALPN field). An HTTP/2 cluster adds h2.
var (
	meshL4ALPN   = []string{"istio-peer-exchange", "istio"}
	meshL4ALPNH2 = []string{"istio-peer-exchange", "istio", "h2"}
	h2OnlyALPN   = []string{"h2"}
)

// forL4 is t for the connections of tcp and tls routes: the same credentials, SNI and
// verification, with the ALPN of a cluster no HTTP filter overrides. nil stays nil.
func (t *UpstreamTLS) forL4(protocol string) *UpstreamTLS {
	if t == nil {
		return nil
	}
	l4 := *t
	switch {
	case t.Mode == modeIstioMutual && protocol == "HTTP2":
		l4.ALPN = meshL4ALPNH2
	case t.Mode == modeIstioMutual:
		l4.ALPN = meshL4ALPN
	case protocol == "HTTP2":
		l4.ALPN = h2OnlyALPN
	default:
		l4.ALPN = nil
	}
	return &l4
}

// l4TLSConfig is the TLS of one upstream connection of a tcp or tls route to addr (host:port),
// built by the HTTP path's builder before dialing, so that a missing credential costs no
// connection. nil (with lc.flags set) means the connection cannot be made.
func (g *Gateway) l4TLSConfig(ctx context.Context, lc *l4Conn, t *UpstreamTLS, addr string) *tls.Config {
	d := &tlsDialer{tls: t, store: g.opts.Credentials}
	cfg, err := d.clientConfig(ctx, addr)
	if err != nil {
		g.l4OriginationFailed(lc, addr, err)
		return nil
	}
	return cfg
}

// l4Handshake starts TLS on a dialed upstream connection. It shares the connect timeout's
// deadline with the dial, as Envoy's connect_timeout runs until the transport socket reports
// the connection up, which for TLS is after the handshake. A failed handshake closes the
// connection and is a connect failure (UF), as it is to Envoy.
func (g *Gateway) l4Handshake(ctx context.Context, lc *l4Conn, raw net.Conn, cfg *tls.Config, deadline time.Time) net.Conn {
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	addr := raw.RemoteAddr().String()
	up, err := clientHandshake(ctx, raw, cfg)
	if err != nil {
		g.l4OriginationFailed(lc, addr, err)
		return nil
	}
	return up
}

func (g *Gateway) l4OriginationFailed(lc *l4Conn, addr string, err error) {
	lc.flags |= accesslog.UpstreamConnectionFailure
	lc.transportFailure = err.Error()
	g.log.Debug("gateway upstream TLS failed", "route", lc.route.Name, "cluster", lc.cluster, "address", addr, "error", err)
}
