package gateway

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"time"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/gatehouse-dev/gatehouse/gateway/clienthello"
)

// MTLSModeAnnotation, set to "PERMISSIVE" on a Gateway, serves its ISTIO_MUTUAL HTTPS servers
// the way a sidecar's inbound port is served under PeerAuthentication PERMISSIVE: besides mesh
// mTLS, the port takes plaintext HTTP (routed by the same VirtualServices' http routes) and
// passes TLS that is not mesh mTLS through, untouched, to the VirtualServices' tcp route.
//
// It is Gatehouse's own, for `gatehouse sidecar`, which synthesizes one Gateway per inbound
// port: Istio has no Gateway field for it (a PeerAuthentication selects workloads, not servers),
// and an annotation keeps the mode in the snapshot, so a mode change is a reload like any other:
// the socket stays, new connections follow the new mode. Any other value, or none, is STRICT:
// an ISTIO_MUTUAL server takes mesh mTLS only.
const MTLSModeAnnotation = "sidecar.gatehouse.dev/mtls-mode"

const mtlsPermissive = "PERMISSIVE"

// istioALPNs are the ALPN values Istio's inbound filter chains match to take a TLS connection as
// mesh mTLS: what its sidecars and gateways offer an ISTIO_MUTUAL upstream (the istio.alpn
// filter's values, and the cluster defaults "istio-peer-exchange" and "istio").
var istioALPNs = []string{"istio-peer-exchange", "istio", "istio-http/1.0", "istio-http/1.1", "istio-h2"}

// offersMeshALPN reports whether a ClientHello offers one of Istio's mTLS ALPN values: the
// test Envoy's PERMISSIVE chains apply, which a peek of the ClientHello can apply too.
func offersMeshALPN(alpn []string) bool {
	return slices.ContainsFunc(alpn, func(p string) bool { return slices.Contains(istioALPNs, p) })
}

// permissiveServer reports whether a server is served PERMISSIVE: an ISTIO_MUTUAL HTTPS server of
// a Gateway annotated so.
func permissiveServer(s gatewayServer) bool {
	return strings.EqualFold(s.gateway.Annotations[MTLSModeAnnotation], mtlsPermissive) &&
		s.server.GetTls().GetMode() == networking.ServerTLSSettings_ISTIO_MUTUAL &&
		strings.EqualFold(s.server.GetPort().GetProtocol(), "HTTPS")
}

// permissive makes a TLS listener PERMISSIVE when one of its servers is: its plaintext virtual
// hosts are those servers' (merged as for an HTTP port), and TLS without a mesh ALPN goes to the
// first tcp route bound to one of them. An annotated server that cannot be PERMISSIVE is warned
// about and stays as it is.
func (c *compiler) permissive(l *Listener, port uint32, servers []gatewayServer) {
	var ps []gatewayServer
	for _, s := range servers {
		if permissiveServer(s) {
			ps = append(ps, s)
			continue
		}
		if v, ok := s.gateway.Annotations[MTLSModeAnnotation]; ok && strings.EqualFold(v, mtlsPermissive) {
			c.problems.warn(s.gateway, s.field("tls.mode"), "%s PERMISSIVE applies to ISTIO_MUTUAL HTTPS servers only: this server is served as configured", MTLSModeAnnotation)
		}
	}
	if len(ps) == 0 {
		return
	}
	l.Permissive = true
	l.VirtualHosts = c.virtualHosts(port, ps)
	for _, s := range ps {
		if r := c.tcpRouteFor(port, s); r != nil {
			l.PassthroughRoute = r
			break
		}
	}
}

// servePermissive serves a connection on a PERMISSIVE port as Envoy's PERMISSIVE inbound chains
// do, telling them apart by the first bytes: a ClientHello offering a mesh ALPN is mesh mTLS
// (the port's ISTIO_MUTUAL filter chain); another ClientHello is passed through to the tcp
// route; anything else is plaintext HTTP. A client that sends nothing before the peek times out
// is plaintext too, as Istio's inbound listener continues on a listener filter timeout.
func (g *Gateway) servePermissive(ctx context.Context, l *listener, tl *Listener, raw net.Conn) {
	start := time.Now()
	hello, prefix, err := clienthello.Peek(raw, start.Add(g.opts.ClientHelloTimeout))
	switch {
	case err == nil && offersMeshALPN(hello.ALPN):
		g.serveHello(ctx, l, tl, raw, hello, prefix, start)
	case err == nil:
		_ = raw.SetReadDeadline(time.Time{})
		g.proxyL4(ctx, raw, prefix, tl.PassthroughRoute, kindPassthrough, normalizeServerName(hello.ServerName))
	case errors.Is(err, clienthello.ErrNotTLS), errors.Is(err, clienthello.ErrTimeout):
		_ = raw.SetReadDeadline(time.Time{})
		l.handoff.deliver(g.framed(clienthello.Replay(raw, prefix)))
	default:
		// The client went away (EOF, reset) before saying anything useful.
		g.log.Debug("gateway PERMISSIVE connection closed before its first bytes", "remote", raw.RemoteAddr().String(), "error", err)
		_ = raw.Close()
	}
}
