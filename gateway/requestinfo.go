package gateway

import (
	"context"
	"net/netip"
	"strings"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// RequestInfo is what the gateway decided about a request before routing it, for the
// authorization engine, logs and metrics to use the same values the routing used.
type RequestInfo struct {
	// NormalizedPath is the request path (no query) after MeshConfig pathNormalization: the path
	// routes matched and the upstream receives (before a route's rewrite).
	NormalizedPath string
	// RemoteIP is Istio's remote.ip: the client address after
	// gatewayTopology.numTrustedProxies hops of X-Forwarded-For, else the connection's peer (the
	// PROXY protocol header's source on listeners that require one).
	RemoteIP netip.Addr
}

// RequestInfoFrom returns the RequestInfo of a request the gateway is serving; ok=false outside
// the gateway's handler.
func RequestInfoFrom(ctx context.Context) (*RequestInfo, bool) {
	x := exchangeFrom(ctx)
	if x == nil {
		return nil, false
	}
	return &x.info, true
}

// numTrustedProxies is MeshConfig defaultConfig.gatewayTopology.numTrustedProxies.
func numTrustedProxies(snap *policy.Snapshot) uint32 {
	return snap.Mesh.GetDefaultConfig().GetGatewayTopology().GetNumTrustedProxies()
}

// proxyProtocol reports whether gatewayTopology.proxyProtocol asks every listener to require a
// PROXY protocol header, as Istio adds the proxy_protocol listener filter to a gateway's
// listeners.
func proxyProtocol(snap *policy.Snapshot) bool {
	return snap.Mesh.GetDefaultConfig().GetGatewayTopology().GetProxyProtocol() != nil
}

// remoteIP applies Envoy's xff_num_trusted_hops with use_remote_address, as Istio configures a
// gateway: with no trusted hops the peer is the client; with N, the Nth address from the right
// of the X-Forwarded-For the request arrived with. A header too short for N, or an entry that is
// not an IP address, leaves the peer as the client.
func remoteIP(peer netip.Addr, xff []string, trusted uint32) netip.Addr {
	if trusted == 0 || len(xff) == 0 {
		return peer
	}
	n := int(trusted)
	// Several header lines are one comma-separated list, in order.
	for i := len(xff) - 1; i >= 0; i-- {
		line := xff[i]
		for {
			j := strings.LastIndexByte(line, ',')
			entry := line[j+1:]
			if n--; n == 0 {
				a, err := netip.ParseAddr(strings.TrimSpace(entry))
				if err != nil {
					return peer
				}
				return a.Unmap()
			}
			if j < 0 {
				break
			}
			line = line[:j]
		}
	}
	return peer
}

// peerIP is the address of a request's connection peer.
func peerIP(remoteAddr string) netip.Addr {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
