package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/gateway/accesslog"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// DynamicForward makes a cluster dial the name the client asked for instead of fixed
// endpoints, as Envoy's dynamic forward proxies do for Istio's wildcard ServiceEntry hosts with
// DYNAMIC_DNS resolution: the TLS SNI of a tls or tcp route (sni_dynamic_forward_proxy), the
// request's authority for an HTTP route (the dynamic_forward_proxy HTTP filter and cluster).
// Only names the wildcard Host admits are dialed, so a client cannot steer the gateway to an
// arbitrary host.
type DynamicForward struct {
	// Host is the ServiceEntry's wildcard host, e.g. "*.wikipedia.org".
	Host string `yaml:"host"`
	// Port is the port dialed: the ServiceEntry port's targetPort, else its number.
	Port uint32 `yaml:"port"`
}

// errNameNotAdmitted is a server name outside the cluster's wildcard host.
var errNameNotAdmitted = errors.New("server name is not covered by the wildcard host")

// admits reports whether the gateway may dial name for this cluster: a syntactically valid DNS
// name under the wildcard. An IP literal never matches, since the wildcard names DNS hosts
// (and "*.0.0.1" would otherwise admit 127.0.0.1).
func (f *DynamicForward) admits(name string) bool {
	if _, err := netip.ParseAddr(name); err == nil {
		return false
	}
	return validDNSName(name) && policy.HostMatches(f.Host, name)
}

// dialDynamic resolves the client's server name (through the bounded dfpCache) and connects
// to the first address that answers, then starts the cluster's TLS (t, nil for none) to that
// name.
func (g *Gateway) dialDynamic(ctx context.Context, f *DynamicForward, t *UpstreamTLS, lc *l4Conn, timeout time.Duration) net.Conn {
	if !f.admits(lc.sni) {
		lc.flags |= accesslog.NoRouteFound
		g.log.Debug("gateway dynamic forward refused", "route", lc.route.Name, "sni", lc.sni, "host", f.Host, "error", errNameNotAdmitted)
		return nil
	}
	port := strconv.FormatUint(uint64(f.Port), 10)
	var cfg *tls.Config
	if t != nil {
		// Without tls.sni, the name dialed is sent and verified (Envoy's auto_sni and
		// auto_san_validation), as on the HTTP path.
		if cfg = g.l4TLSConfig(ctx, lc, t, net.JoinHostPort(lc.sni, port)); cfg == nil {
			return nil
		}
	}
	lookupCtx, cancel := context.WithTimeout(ctx, max(timeout, time.Second))
	addrs, err := g.dns.lookupDynamic(lookupCtx, lc.sni)
	cancel()
	if err != nil {
		lc.flags |= accesslog.DNSResolutionFailed
		g.log.Debug("gateway dynamic forward lookup failed", "route", lc.route.Name, "sni", lc.sni, "error", err)
		return nil
	}
	dialer := net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	for _, a := range preferV4(addrs) {
		up, derr := dialer.DialContext(ctx, "tcp", net.JoinHostPort(a.String(), port))
		if derr != nil {
			err = derr
			continue
		}
		if cfg != nil {
			return g.l4Handshake(ctx, lc, up, cfg, connectDeadline(timeout))
		}
		return up
	}
	lc.flags |= accesslog.UpstreamConnectionFailure
	g.log.Debug("gateway upstream connect failed", "route", lc.route.Name, "sni", lc.sni, "error", err)
	return nil
}

// validDNSName reports whether name is a DNS host name of letter-digit-hyphen labels, the only
// kind a dynamic forward looks up.
func validDNSName(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '.':
			if label == 0 || name[i-1] == '-' {
				return false
			}
			label = 0
		case c == '-':
			if label == 0 {
				return false
			}
			label++
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			label++
		default:
			return false
		}
		if label > 63 {
			return false
		}
	}
	return label > 0 && name[len(name)-1] != '-'
}

// Envoy's dynamic forward proxy filter's local replies.
const (
	bodyDNSResolutionFailure = "DNS resolution failure"
	bodyEmptyHost            = "Empty host header"
)

// upstreamName is the name an HTTP request to a dynamic forward cluster dials: the authority the
// upstream request carries (after the route's rewrite.authority), without its port, lowercase
// and without a trailing dot. The port never comes from the request: the ServiceEntry port says
// which one is dialed, so a client cannot steer the gateway to another port.
func upstreamName(r *http.Request, route *Route) string {
	host := r.Host
	if rw := route.Rewrite; rw != nil && rw.Authority != "" {
		host = rw.Authority
	}
	return strings.ToLower(strings.TrimSuffix(stripPort(host), "."))
}

// dynamicEndpoint is where one request to a dynamic forward cluster goes, resolved through the
// bounded dfpCache, or nil once the request has been answered: 400 without
// a name, 404 (NR) for a name the wildcard does not admit, 503 (DF) for one that does not
// resolve. A plaintext request dials the address it resolved to; with TLS origination the
// endpoint stays the name, so that connections are pooled, sent SNI and verified per name.
func (g *Gateway) dynamicEndpoint(w http.ResponseWriter, r *http.Request, c *Cluster, route *Route) *Endpoint {
	f := c.DynamicForward
	name := upstreamName(r, route)
	switch {
	case name == "":
		setDetails(r.Context(), "empty_host_header")
		localReply(w, http.StatusBadRequest, bodyEmptyHost)
		return nil
	case !f.admits(name):
		if rs, ok := r.Context().Value(routeStateKey{}).(*routeState); ok {
			rs.noRoute()
		}
		g.log.Debug("gateway dynamic forward refused", "route", route.Name, "host", name, "wildcard", f.Host, "error", errNameNotAdmitted)
		localReply(w, http.StatusNotFound, "")
		return nil
	}
	// Bounded as Envoy's DNS cache dns_query_timeout (5s by default) bounds it.
	ctx, cancel := context.WithTimeout(r.Context(), dnsLookupTimeout)
	addrs, err := g.dns.lookupDynamic(ctx, name)
	cancel()
	port := strconv.FormatUint(uint64(f.Port), 10)
	if err != nil {
		if r.Context().Err() != nil {
			// The client went away during the lookup: nobody reads an answer.
			return nil
		}
		setFlags(r.Context(), accesslog.DNSResolutionFailed)
		setDetails(r.Context(), "dns_resolution_failure")
		// Names are the client's to choose: one warning per cluster, the rest at debug.
		if g.upstream.Load().adopt(c).dnsWarned.CompareAndSwap(false, true) {
			g.log.Warn("upstream host does not resolve: requests get 503", "cluster", c.Name, "host", name, "error", err)
		} else {
			g.log.Debug("upstream host does not resolve", "cluster", c.Name, "host", name, "error", err)
		}
		localReply(w, http.StatusServiceUnavailable, bodyDNSResolutionFailure)
		return nil
	}
	if c.TLS != nil {
		return &Endpoint{Address: net.JoinHostPort(name, port)}
	}
	return &Endpoint{Address: net.JoinHostPort(preferV4(addrs)[0].Unmap().String(), port)}
}

// setDetails records %RESPONSE_CODE_DETAILS% for the request ctx belongs to.
func setDetails(ctx context.Context, details string) {
	if s, ok := ctx.Value(routeStateKey{}).(*routeState); ok {
		s.details = details
	}
}
