package gateway

import (
	"net"
	"net/netip"
	"time"

	"github.com/gatehouse-dev/gatehouse/gateway/accesslog"
)

// logL4 writes one access log entry for a proxied connection when it ends, as Envoy's
// tcp_proxy access log does: bytes, duration, upstream and SNI, with no request fields.
func (g *Gateway) logL4(down net.Conn, lc *l4Conn) {
	sink := g.accessLogs.live.Load()
	if sink == nil {
		return
	}
	e := entries.Get().(*accesslog.Entry)
	*e = accesslog.Entry{
		StartTime:                      lc.start,
		ResponseFlags:                  lc.flags,
		BytesReceived:                  lc.received,
		BytesSent:                      lc.sent,
		Duration:                       time.Since(lc.start),
		UpstreamCluster:                lc.cluster,
		DownstreamLocalAddress:         addrPort(down.LocalAddr()),
		DownstreamRemoteAddress:        addrPort(down.RemoteAddr()),
		RequestedServerName:            lc.sni,
		ConnectionTerminationDetails:   lc.details,
		UpstreamTransportFailureReason: lc.transportFailure,
	}
	if lc.upstream != nil {
		e.UpstreamHost = addrPort(lc.upstream.RemoteAddr())
		e.UpstreamLocalAddress = addrPort(lc.upstream.LocalAddr())
	}
	sink.logger.Log(e)
	entries.Put(e)
}

// addrPort is a socket address as the access log prints it; zero when it is not IP.
func addrPort(a net.Addr) netip.AddrPort {
	var ap netip.AddrPort
	switch a := a.(type) {
	case nil:
		return ap
	case *net.TCPAddr:
		ap = a.AddrPort()
	default:
		ap, _ = netip.ParseAddrPort(a.String())
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
