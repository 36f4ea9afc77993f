package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/gateway/accesslog"
)

// Kinds of proxied connections, the label of the TCP metrics.
const (
	kindTCP         = "tcp"         // a plain TCP server
	kindPassthrough = "passthrough" // TLS passed through by SNI
	kindTLS         = "tls"         // TLS terminated, bytes proxied
)

// l4Conn is one proxied connection as the access log reports it when it ends.
type l4Conn struct {
	start   time.Time
	route   *TCPRoute
	kind    string
	sni     string
	cluster string
	flags   accesslog.ResponseFlags
	// details is %CONNECTION_TERMINATION_DETAILS% when the gateway closed the connection itself.
	details string
	// transportFailure is %UPSTREAM_TRANSPORT_FAILURE_REASON%: why TLS origination failed.
	transportFailure string
	upstream         net.Conn
	received         int64
	sent             int64
}

// proxyL4 connects a downstream connection to an endpoint of one of the route's destinations and
// copies bytes both ways until both sides are done. prefix (a peeked ClientHello) goes upstream
// first; sni is the client's server name ("" for plain TCP), which a dynamic-forward cluster
// dials. Between two TCP connections io.Copy splices in the kernel, so nothing after the prefix
// passes through user space.
func (g *Gateway) proxyL4(ctx context.Context, down net.Conn, prefix []byte, route *TCPRoute, kind, sni string) {
	lc := &l4Conn{start: time.Now(), route: route, kind: kind, sni: sni}
	defer g.logL4(down, lc)
	defer down.Close()
	m := g.metrics
	m.tcpConnections.WithLabelValues(kind).Inc()
	active := m.tcpActive.WithLabelValues(kind)
	active.Inc()
	defer active.Dec()

	if g.opts.Authz != nil && !g.authorizeL4(ctx, down, lc) {
		return
	}
	up := g.dialL4(ctx, lc)
	if up == nil {
		m.tcpUpstreamErrors.WithLabelValues(kind).Inc()
		return
	}
	defer up.Close()
	lc.upstream = up
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
		lc.received = int64(len(prefix))
		m.tcpBytes.WithLabelValues(kind, "received").Add(float64(len(prefix)))
	}
	received, sent := splice(down, up)
	lc.received += received
	lc.sent = sent
	m.tcpBytes.WithLabelValues(kind, "received").Add(float64(received))
	m.tcpBytes.WithLabelValues(kind, "sent").Add(float64(sent))
}

// dialL4 connects to where the route sends the connection, with the cluster's TLS when it has
// one for the endpoint, or returns nil with the reason in lc.flags: NR without a destination,
// NC for a cluster that does not exist, UH without an endpoint, UF when the connect or the TLS
// handshake fails.
func (g *Gateway) dialL4(ctx context.Context, lc *l4Conn) net.Conn {
	var d *Destination
	if lc.route != nil {
		d = lc.route.pick()
	}
	if d == nil {
		lc.flags |= accesslog.NoRouteFound
		return nil
	}
	lc.cluster = d.Cluster
	if d.cluster == nil {
		lc.flags |= accesslog.NoClusterFound
		return nil
	}
	timeout := g.upstream.Load().settings.ConnectTimeout.Std()
	if df := d.cluster.DynamicForward; df != nil {
		return g.dialDynamic(ctx, df, d.cluster.l4TLS, lc, timeout)
	}
	ep := d.cluster.pick()
	if ep == nil {
		lc.flags |= accesslog.NoHealthyUpstream
		return nil
	}
	ep.inflight.Add(1)
	defer ep.inflight.Add(-1)
	var cfg *tls.Config
	if t := d.cluster.l4TLS; t.appliesTo(ep) {
		if cfg = g.l4TLSConfig(ctx, lc, t, ep.Address); cfg == nil {
			return nil
		}
	}
	deadline := connectDeadline(timeout)
	dialer := net.Dialer{Deadline: deadline, KeepAlive: 30 * time.Second}
	up, err := dialer.DialContext(ctx, "tcp", ep.Address)
	if err != nil {
		lc.flags |= accesslog.UpstreamConnectionFailure
		g.log.Debug("gateway upstream connect failed", "route", lc.route.Name, "address", ep.Address, "error", err)
		return nil
	}
	if cfg != nil {
		return g.l4Handshake(ctx, lc, up, cfg, deadline)
	}
	return up
}

// connectDeadline is when a connect timeout started now runs out; zero for no timeout.
func connectDeadline(timeout time.Duration) time.Time {
	if timeout <= 0 {
		return time.Time{}
	}
	return time.Now().Add(timeout)
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
