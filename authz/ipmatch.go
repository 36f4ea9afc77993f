package authz

import (
	"fmt"
	"net/netip"
	"strings"
)

// parseIPBlock reads a single address or a CIDR range, as Istio's AddrStrToCidrRange does: a single
// address is a /32 (or /128) range. IPv4-mapped IPv6 addresses are unmapped so that "10.0.0.1" and
// "::ffff:10.0.0.1" are one address, as they are to Envoy's CIDR matcher on a dual-stack socket.
func parseIPBlock(v string) (netip.Prefix, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("bad CIDR range %q: %w", v, err)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad IP address %q: %w", v, err)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parseIPBlocks compiles a list of ipBlocks-style values.
func parseIPBlocks(vs []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(vs))
	for _, v := range vs {
		p, err := parseIPBlock(v)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// anyPrefix reports whether a (unmapped by the caller) is in any block. An invalid (absent) address
// matches nothing.
func anyPrefix(ps []netip.Prefix, a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
