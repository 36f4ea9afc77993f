package gateway

import (
	"net/netip"
	"testing"
)

func TestRemoteIP(t *testing.T) {
	t.Parallel()
	peer := netip.MustParseAddr("10.0.0.9")
	tests := []struct {
		name    string
		xff     []string
		trusted uint32
		want    string
	}{
		{name: "default ignores a spoofed header", xff: []string{"1.2.3.4"}, want: "10.0.0.9"},
		{name: "no header", trusted: 1, want: "10.0.0.9"},
		{name: "one hop takes the rightmost", xff: []string{"1.2.3.4, 192.0.2.10"}, trusted: 1, want: "192.0.2.10"},
		{name: "two hops", xff: []string{"1.2.3.4, 192.0.2.10, 203.0.113.1"}, trusted: 2, want: "192.0.2.10"},
		{name: "across header lines", xff: []string{"1.2.3.4", "192.0.2.10"}, trusted: 2, want: "1.2.3.4"},
		{name: "too few entries", xff: []string{"192.0.2.10"}, trusted: 2, want: "10.0.0.9"},
		{name: "exactly enough entries", xff: []string{"192.0.2.10,203.0.113.1"}, trusted: 2, want: "192.0.2.10"},
		{name: "not an address", xff: []string{"1.2.3.4, unknown"}, trusted: 1, want: "10.0.0.9"},
		{name: "IPv6", xff: []string{"2001:db8::1"}, trusted: 1, want: "2001:db8::1"},
		{name: "IPv4-mapped", xff: []string{"::ffff:192.0.2.1"}, trusted: 1, want: "192.0.2.1"},
	}
	for _, tt := range tests {
		if got := remoteIP(peer, tt.xff, tt.trusted); got.String() != tt.want {
			t.Errorf("%s: remoteIP = %s, want %s", tt.name, got, tt.want)
		}
	}
}
