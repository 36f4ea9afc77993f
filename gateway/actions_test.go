package gateway

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRedirectLocation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		rd     Redirect
		target string
		host   string
		want   string
	}{
		{"path swapped, query kept", Redirect{URI: "/new"}, "/old?a=1", "shop.example.com", "http://shop.example.com/new?a=1"},
		{"query in uri wins", Redirect{URI: "/new?b=2"}, "/old?a=1", "shop.example.com", "http://shop.example.com/new?b=2"},
		{"authority swapped", Redirect{Authority: "new.example.com"}, "/p", "shop.example.com:8080", "http://new.example.com/p"},
		{"explicit port", Redirect{Port: 8443, Scheme: "https"}, "/p", "shop.example.com:8080", "https://shop.example.com:8443/p"},
		{"default port stripped", Redirect{Scheme: "https", StripPort: true}, "/p", "shop.example.com:8080", "https://shop.example.com/p"},
		{"scheme change drops :80", Redirect{Scheme: "https"}, "/p", "shop.example.com:80", "https://shop.example.com/p"},
		{"scheme change keeps other ports", Redirect{Scheme: "https"}, "/p", "shop.example.com:8080", "https://shop.example.com:8080/p"},
		{"nothing changed but the code", Redirect{}, "/p", "shop.example.com", "http://shop.example.com/p"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", tt.target, nil)
			r.Host = tt.host
			if got := tt.rd.location(r, requestPath(r)); got != tt.want {
				t.Errorf("location = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRewritePath(t *testing.T) {
	t.Parallel()
	re, err := compileRegexRewrite(regexRewrite("^/users/([0-9]+)/(.*)$", `/u/\1?\2$`))
	if err != nil {
		t.Fatal(err)
	}
	match := func(k MatchKind, v string) *RouteMatch { return &RouteMatch{Path: &StringMatch{Kind: k, Value: v}} }
	tests := []struct {
		name string
		rw   *Rewrite
		m    *RouteMatch
		path string
		want string
	}{
		{"none", nil, match(MatchPrefix, "/"), "/a", "/a"},
		{"authority only", &Rewrite{Authority: "x"}, match(MatchPrefix, "/"), "/a", "/a"},
		{"prefix swapped", &Rewrite{URI: "/api"}, match(MatchPrefix, "/v1/api"), "/v1/api/users", "/api/users"},
		{"catch-all prefix", &Rewrite{URI: "/app/"}, match(MatchPrefix, "/"), "/x", "/app/x"},
		{"exact swaps the path", &Rewrite{URI: "/b"}, match(MatchExact, "/a"), "/a", "/b"},
		{"regex match swaps the path", &Rewrite{URI: "/b"}, match(MatchRegex, "/a.*"), "/abc", "/b"},
		{"regex rewrite", &Rewrite{URIRegex: re}, match(MatchPrefix, "/"), "/users/42/x", "/u/42?x$"},
	}
	for _, tt := range tests {
		if got := tt.rw.path(tt.m, tt.path); got != tt.want {
			t.Errorf("%s: path = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestPickLeastRequest(t *testing.T) {
	t.Parallel()
	busy, idle := &Endpoint{Address: "busy"}, &Endpoint{Address: "idle"}
	busy.inflight.Store(5)
	c := &Cluster{Endpoints: []*Endpoint{busy, idle}}
	// With two endpoints both are always drawn, so the idle one always wins.
	for range 100 {
		if got := c.pick(); got != idle {
			t.Fatalf("pick = %s, want idle", got.Address)
		}
	}
	if (&Cluster{}).pick() != nil {
		t.Error("pick on a cluster without endpoints returned one")
	}
	three := &Cluster{Endpoints: []*Endpoint{{Address: "a"}, {Address: "b"}, {Address: "c"}}}
	seen := map[string]bool{}
	for range 300 {
		seen[three.pick().Address] = true
	}
	if len(seen) != 3 {
		t.Errorf("equal endpoints picked: %v, want all three", seen)
	}
}

func TestPickWeighted(t *testing.T) {
	t.Parallel()
	a, b := &Destination{Cluster: "a", Weight: 3}, &Destination{Cluster: "b", Weight: 1}
	r := &Route{Destinations: []*Destination{a, b}, totalWeight: 4}
	counts := map[string]int{}
	for range 4000 {
		counts[r.pick().Cluster]++
	}
	// Loose bounds: the split is random, only its rough shape is checked.
	if counts["a"] < 2500 || counts["b"] < 600 {
		t.Errorf("weighted picks = %v, want roughly 3000/1000", counts)
	}
	if (&Route{}).pick() != nil {
		t.Error("pick on a route without destinations returned one")
	}
}

func TestRequestIDIsUUIDv4(t *testing.T) {
	t.Parallel()
	id := newRequestID()
	if len(id) != 36 || id[14] != '4' || id[8] != '-' || id[23] != '-' || strings.Trim(id, "0123456789abcdef-") != "" {
		t.Errorf("newRequestID() = %q, not a v4 UUID", id)
	}
	if id == newRequestID() {
		t.Error("two request ids are equal")
	}
}
