package gateway

import (
	"context"
	"errors"
	"net"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse/gateway/accesslog"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// DynamicForward makes a cluster dial the name the client asked for (its TLS SNI) instead of
// fixed endpoints, as Envoy's sni_dynamic_forward_proxy does for Istio's wildcard ServiceEntry
// hosts with DYNAMIC_DNS resolution. Only names the wildcard Host admits are dialed, so a
// client cannot steer the gateway to an arbitrary host by its SNI.
type DynamicForward struct {
	// Host is the ServiceEntry's wildcard host, e.g. "*.wikipedia.org".
	Host string `yaml:"host"`
	// Port is the port dialed: the ServiceEntry port's targetPort, else its number.
	Port uint32 `yaml:"port"`
}

// errNameNotAdmitted is a server name outside the cluster's wildcard host.
var errNameNotAdmitted = errors.New("server name is not covered by the wildcard host")

// admits reports whether the gateway may dial name for this cluster: a syntactically valid DNS
// name under the wildcard. An IP literal never matches, since the wildcard names DNS hosts.
func (f *DynamicForward) admits(name string) bool {
	return validDNSName(name) && policy.HostMatches(f.Host, name)
}

// dialDynamic resolves the client's server name and connects to the first address that
// answers. Resolution happens per connection: the names are unbounded, so nothing is cached
// that an attacker could grow.
func (g *Gateway) dialDynamic(ctx context.Context, f *DynamicForward, lc *l4Conn, timeout time.Duration) net.Conn {
	if !f.admits(lc.sni) {
		lc.flags |= accesslog.NoRouteFound
		g.log.Debug("gateway dynamic forward refused", "route", lc.route.Name, "sni", lc.sni, "host", f.Host, "error", errNameNotAdmitted)
		return nil
	}
	lookupCtx, cancel := context.WithTimeout(ctx, max(timeout, time.Second))
	addrs, err := g.dns.resolver.LookupNetIP(lookupCtx, "ip", lc.sni)
	cancel()
	if err == nil && len(addrs) == 0 {
		err = &net.DNSError{Err: "no addresses", Name: lc.sni, IsNotFound: true}
	}
	if err != nil {
		lc.flags |= accesslog.DNSResolutionFailed
		g.log.Debug("gateway dynamic forward lookup failed", "route", lc.route.Name, "sni", lc.sni, "error", err)
		return nil
	}
	dialer := net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	port := strconv.FormatUint(uint64(f.Port), 10)
	for _, a := range preferV4(addrs) {
		up, derr := dialer.DialContext(ctx, "tcp", net.JoinHostPort(a.String(), port))
		if derr == nil {
			return up
		}
		err = derr
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
