package gateway

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Kinds of proxied connections, the label of the TCP metrics.
const (
	kindTCP         = "tcp"         // a plain TCP server
	kindPassthrough = "passthrough" // TLS passed through by SNI
	kindTLS         = "tls"         // TLS terminated, bytes proxied
)

// proxyL4 connects a downstream connection to an endpoint of one of the route's destinations and
// copies bytes both ways until both sides are done. prefix (a peeked ClientHello) goes upstream
// first. Between two TCP connections io.Copy splices in the kernel, so nothing after the prefix
// passes through user space.
func (g *Gateway) proxyL4(ctx context.Context, down net.Conn, prefix []byte, route *TCPRoute, kind string) {
	defer down.Close()
	m := g.metrics
	m.tcpConnections.WithLabelValues(kind).Inc()
	active := m.tcpActive.WithLabelValues(kind)
	active.Inc()
	defer active.Dec()

	var d *Destination
	if route != nil {
		d = route.pick()
	}
	if d == nil || d.cluster == nil {
		m.tcpUpstreamErrors.WithLabelValues(kind).Inc()
		return
	}
	ep := d.cluster.pick()
	if ep == nil {
		m.tcpUpstreamErrors.WithLabelValues(kind).Inc()
		return
	}
	ep.inflight.Add(1)
	defer ep.inflight.Add(-1)
	dialer := net.Dialer{Timeout: g.upstream.Load().settings.ConnectTimeout.Std(), KeepAlive: 30 * time.Second}
	up, err := dialer.DialContext(ctx, "tcp", ep.Address)
	if err != nil {
		m.tcpUpstreamErrors.WithLabelValues(kind).Inc()
		g.log.Debug("gateway upstream connect failed", "route", route.Name, "address", ep.Address, "error", err)
		return
	}
	defer up.Close()
	// A forced shutdown closes both sides, which ends both copies.
	stop := context.AfterFunc(ctx, func() {
		_ = down.Close()
		_ = up.Close()
	})
	defer stop()

	if len(prefix) > 0 {
		if _, err := up.Write(prefix); err != nil {
			return
		}
		m.tcpBytes.WithLabelValues(kind, "received").Add(float64(len(prefix)))
	}
	received, sent := splice(down, up)
	m.tcpBytes.WithLabelValues(kind, "received").Add(float64(received))
	m.tcpBytes.WithLabelValues(kind, "sent").Add(float64(sent))
}

// splice copies down→up and up→down. When one direction ends cleanly, the other side's write
// half is closed (TCP FIN, or TLS close_notify) and the other direction goes on, as Envoy's
// tcp_proxy half-closes; when one fails, both connections are closed.
func splice(down, up net.Conn) (received, sent int64) {
	var wg sync.WaitGroup
	wg.Go(func() { received = copyHalf(up, down, down) })
	sent = copyHalf(down, up, up)
	wg.Wait()
	return received, sent
}

func copyHalf(dst, src, srcConn net.Conn) int64 {
	n, err := io.Copy(dst, src)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		_ = dst.Close()
		_ = srcConn.Close()
		return n
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		if cw.CloseWrite() == nil {
			return n
		}
	}
	_ = dst.Close()
	return n
}
