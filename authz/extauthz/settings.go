package extauthz

import (
	"net/netip"
	"strings"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policy/pathnorm"
)

// settings are the mesh-wide settings a check reads, from the last applied snapshot.
type settings struct {
	pathMode pathnorm.Mode
	// trustedProxies is gatewayTopology.numTrustedProxies.
	trustedProxies uint32
}

func settingsFrom(snap *policy.Snapshot) *settings {
	return &settings{
		pathMode:       pathnorm.FromMesh(snap.Mesh),
		trustedProxies: snap.Mesh.GetDefaultConfig().GetGatewayTopology().GetNumTrustedProxies(),
	}
}

// defaultSettings apply before any snapshot: Istio's defaults (BASE, no trusted proxies).
var defaultSettings = &settings{pathMode: pathnorm.Base}

// splitPath splits a request target into its normalized path and its raw query.
func (s *settings) splitPath(target string) (path, rawQuery string, err error) {
	raw, rawQuery, _ := strings.Cut(target, "?")
	path, err = pathnorm.Normalize(s.pathMode, raw)
	return path, rawQuery, err
}

// remoteIP applies numTrustedProxies to x-forwarded-for as the gateway does (Envoy's
// xff_num_trusted_hops): with N trusted hops the client is the Nth address from the right; with
// none, or a list too short or malformed, it is the peer.
func (s *settings) remoteIP(peer netip.Addr, xff []string) netip.Addr {
	n := int(s.trustedProxies)
	if n == 0 {
		return peer
	}
	for i := len(xff) - 1; i >= 0; i-- {
		entries := strings.Split(xff[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			if n--; n == 0 {
				a, err := netip.ParseAddr(strings.TrimSpace(entries[j]))
				if err != nil {
					return peer
				}
				return a.Unmap()
			}
		}
	}
	return peer
}

// lastForwardedFor is the rightmost x-forwarded-for address: the peer an Envoy with
// use_remote_address appended.
func lastForwardedFor(xff []string) netip.Addr {
	if len(xff) == 0 {
		return netip.Addr{}
	}
	line := xff[len(xff)-1]
	a, err := netip.ParseAddr(strings.TrimSpace(line[strings.LastIndexByte(line, ',')+1:]))
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}
