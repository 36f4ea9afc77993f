package gateway

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/gateway/accesslog"
)

// finish reports a request the gateway has served: Istio's metrics always, the access log
// when one is on.
func (g *Gateway) finish(r *http.Request, sw *statusWriter) {
	rs := sw.state
	d := time.Since(rs.start)
	flags := accesslog.ResponseFlags(rs.flags.Load())
	// Code 0: the client went away before any response; a cancelled context after one means
	// it went away during the body. Envoy says DC for both.
	if sw.code == 0 || r.Context().Err() != nil {
		flags |= accesslog.DownstreamConnectionTermination
	}
	grpc := strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc")
	k := seriesKey{code: sw.code, flags: flags, grpc: grpc, grpcStatus: -1}
	x := rs.x
	if x != nil && x.destination != nil {
		k.cluster = x.destination.Cluster
		if c := x.destination.cluster; c != nil {
			k.serviceEntry = c.ServiceEntry
		}
	}
	if grpc {
		k.grpcStatus = grpcStatus(sw.Header())
	}
	received := rs.received.Load()
	g.metrics.observe(k, d, received, sw.bytes)
	if rs.log == nil {
		return
	}
	e := entries.Get().(*accesslog.Entry)
	*e = accesslog.Entry{
		StartTime:              rs.start,
		Method:                 r.Method,
		Path:                   r.RequestURI,
		Protocol:               accesslog.ProtocolName(r.ProtoMajor, r.ProtoMinor),
		ResponseCode:           sw.code,
		ResponseFlags:          flags,
		ResponseCodeDetails:    rs.details,
		BytesReceived:          received,
		BytesSent:              sw.bytes,
		Duration:               d,
		UpstreamServiceTime:    rs.serviceTime,
		HasUpstreamServiceTime: rs.serviceTime > 0,
		XForwardedFor:          forwardedFor(r),
		UserAgent:              r.Header.Get("User-Agent"),
		RequestID:              r.Header.Get("X-Request-Id"),
		Authority:              r.Host,
		UpstreamCluster:        k.cluster,
		DownstreamLocalAddress: localAddr(r),
		RequestHeaders:         r.Header,
		ResponseHeaders:        sw.Header(),
		Scheme:                 "http",
	}
	if rs.serviceTime > 0 {
		e.ResponseDuration = rs.upstreamStart.Add(rs.serviceTime).Sub(rs.start)
	}
	if peer, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		e.DownstreamDirectRemoteAddress = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
	}
	if r.TLS != nil {
		e.Scheme = "https"
		e.TLSVersion = r.TLS.Version
		if len(r.TLS.PeerCertificates) > 0 {
			e.PeerCertificate = r.TLS.PeerCertificates[0]
		}
	}
	if sw.code != 0 && !sw.local {
		e.ResponseCodeDetails = "via_upstream"
	}
	if x != nil {
		if x.route != nil {
			e.RouteName = x.route.Name
		}
		if x.endpoint != nil {
			e.UpstreamHost, _ = netip.ParseAddrPort(x.endpoint.Address)
		}
		e.DownstreamRemoteAddress = remoteAddr(r.RemoteAddr, x.info.RemoteIP)
		if x.conn != nil {
			e.RequestedServerName = x.conn.serverName
		}
	} else {
		e.DownstreamRemoteAddress = remoteAddr(r.RemoteAddr, netip.Addr{})
	}
	if e.RequestedServerName == "" && r.TLS != nil {
		e.RequestedServerName = r.TLS.ServerName
	}
	rs.log.logger.Log(e)
	entries.Put(e)
}

var entries = sync.Pool{New: func() any { return new(accesslog.Entry) }}

// forwardedFor is X-Forwarded-For as the upstream receives it: the client's, with the
// connection's peer appended.
func forwardedFor(r *http.Request) string {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return strings.Join(r.Header["X-Forwarded-For"], ",")
	}
	if prior := r.Header["X-Forwarded-For"]; len(prior) > 0 {
		return strings.Join(prior, ",") + "," + ip
	}
	return ip
}

// remoteAddr is %DOWNSTREAM_REMOTE_ADDRESS%: the trusted client address, with the socket's
// port only when the client is the socket's peer.
func remoteAddr(socket string, trusted netip.Addr) netip.AddrPort {
	peer, err := netip.ParseAddrPort(socket)
	if err != nil {
		return netip.AddrPortFrom(trusted, 0)
	}
	peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
	if !trusted.IsValid() || trusted == peer.Addr() {
		return peer
	}
	return netip.AddrPortFrom(trusted, 0)
}

func localAddr(r *http.Request) netip.AddrPort {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok {
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

// countingBody counts the request body bytes the upstream (or the gateway) read.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
