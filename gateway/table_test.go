package gateway

import (
	"slices"
	"testing"
)

func TestVirtualHostSelection(t *testing.T) {
	t.Parallel()
	l := &Listener{}
	for _, d := range []string{"*", "*.example.com", "*.eu.example.com", "shop.example.com", "[::1]"} {
		l.VirtualHosts = append(l.VirtualHosts, &VirtualHost{Domain: d})
	}
	l.index()
	tests := []struct {
		host string
		want string
	}{
		{"shop.example.com", "shop.example.com"},
		{"SHOP.Example.COM", "shop.example.com"},
		{"shop.example.com:8080", "shop.example.com"},
		{"a.eu.example.com", "*.eu.example.com"},
		{"eu.example.com", "*.example.com"},
		{"x.y.example.com", "*.example.com"},
		// The wildcard stands for at least one character.
		{"example.com", "*"},
		{".example.com", "*"},
		{"other.net", "*"},
		{"", "*"},
		{"[::1]:80", "[::1]"},
	}
	for _, tt := range tests {
		if got := l.virtualHost(tt.host); got == nil || got.Domain != tt.want {
			t.Errorf("virtualHost(%q) = %v, want %s", tt.host, got, tt.want)
		}
	}
	noStar := &Listener{VirtualHosts: []*VirtualHost{{Domain: "shop.example.com"}}}
	noStar.index()
	if got := noStar.virtualHost("other.example.com"); got != nil {
		t.Errorf("without a \"*\" domain an unknown host selects %q, want none", got.Domain)
	}
}

func TestStripPort(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"example.com":      "example.com",
		"example.com:80":   "example.com",
		"10.0.0.1:8080":    "10.0.0.1",
		"[::1]":            "[::1]",
		"[::1]:443":        "[::1]",
		"::1":              "::1",
		"example.com:":     "example.com",
		"[fe80::1%eth0]:1": "[fe80::1%eth0]",
	} {
		if got := stripPort(in); got != want {
			t.Errorf("stripPort(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIntersectHosts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		server, vs []string
		want       []string
	}{
		{"exact", []string{"a.example.com"}, []string{"a.example.com"}, []string{"a.example.com"}},
		{"server wildcard keeps vs host", []string{"*.example.com"}, []string{"a.example.com", "b.example.com"}, []string{"a.example.com", "b.example.com"}},
		{"vs wildcard keeps server host", []string{"a.example.com"}, []string{"*.example.com"}, []string{"a.example.com"}},
		{"narrower wildcard wins", []string{"*.example.com"}, []string{"*.eu.example.com"}, []string{"*.eu.example.com"}},
		{"star", []string{"*"}, []string{"a.example.com", "*.org"}, []string{"a.example.com", "*.org"}},
		{"wildcard needs a label", []string{"*.example.com"}, []string{"example.com"}, nil},
		{"disjoint", []string{"a.example.com"}, []string{"b.example.com"}, nil},
		{"deduplicated", []string{"*", "*.example.com"}, []string{"a.example.com"}, []string{"a.example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := intersectHosts(tt.server, tt.vs); !slices.Equal(got, tt.want) {
				t.Errorf("intersectHosts(%v, %v) = %v, want %v", tt.server, tt.vs, got, tt.want)
			}
		})
	}
}

func TestCatchAllLast(t *testing.T) {
	t.Parallel()
	route := func(name, prefix string) *Route {
		return &Route{Name: name, Match: &RouteMatch{Path: &StringMatch{Kind: MatchPrefix, Value: prefix}}}
	}
	withHeader := route("header", "/")
	withHeader.Match.Headers = []*HeaderMatch{{Name: "x", Match: &StringMatch{}}}
	in := []*Route{route("all-1", "/"), route("api", "/api"), withHeader, route("all-2", "/"), route("web", "/web")}
	var got []string
	for _, r := range catchAllLast(in) {
		got = append(got, r.Name)
	}
	want := []string{"api", "header", "web", "all-1", "all-2"}
	if !slices.Equal(got, want) {
		t.Errorf("catchAllLast = %v, want %v", got, want)
	}
}
