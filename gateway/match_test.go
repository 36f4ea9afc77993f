package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/gatehouse-dev/gatehouse/policy"
)

func exact(s string) *networking.StringMatch {
	return &networking.StringMatch{MatchType: &networking.StringMatch_Exact{Exact: s}}
}

func prefix(s string) *networking.StringMatch {
	return &networking.StringMatch{MatchType: &networking.StringMatch_Prefix{Prefix: s}}
}

func regex(s string) *networking.StringMatch {
	return &networking.StringMatch{MatchType: &networking.StringMatch_Regex{Regex: s}}
}

func TestRouteMatch(t *testing.T) {
	t.Parallel()
	req := func(method, target string, headers ...string) *http.Request {
		r := httptest.NewRequest(method, target, nil)
		for i := 0; i+1 < len(headers); i += 2 {
			r.Header.Add(headers[i], headers[i+1])
		}
		return r
	}
	tests := []struct {
		name  string
		match *networking.HTTPMatchRequest
		req   *http.Request
		want  bool
	}{
		{"no block matches all", nil, req("GET", "/anything"), true},
		{"exact path", &networking.HTTPMatchRequest{Uri: exact("/a")}, req("GET", "/a?x=1"), true},
		{"exact path is not a prefix", &networking.HTTPMatchRequest{Uri: exact("/a")}, req("GET", "/ab"), false},
		{"prefix is a plain string prefix", &networking.HTTPMatchRequest{Uri: prefix("/api")}, req("GET", "/apiv2"), true},
		{"prefix is case-sensitive", &networking.HTTPMatchRequest{Uri: prefix("/api")}, req("GET", "/API"), false},
		{"ignoreUriCase", &networking.HTTPMatchRequest{Uri: prefix("/api"), IgnoreUriCase: true}, req("GET", "/API/x"), true},
		{"regex matches the whole path", &networking.HTTPMatchRequest{Uri: regex("/u/[0-9]+")}, req("GET", "/u/12"), true},
		{"regex is anchored", &networking.HTTPMatchRequest{Uri: regex("/u/[0-9]+")}, req("GET", "/u/12/x"), false},
		{"raw path, not decoded", &networking.HTTPMatchRequest{Uri: exact("/a%2Fb")}, req("GET", "/a%2Fb"), true},
		{"header exact", &networking.HTTPMatchRequest{Headers: map[string]*networking.StringMatch{"x-v": exact("2")}}, req("GET", "/", "X-V", "2"), true},
		{"header missing", &networking.HTTPMatchRequest{Headers: map[string]*networking.StringMatch{"x-v": exact("2")}}, req("GET", "/"), false},
		{"header values joined", &networking.HTTPMatchRequest{Headers: map[string]*networking.StringMatch{"x-v": exact("1,2")}}, req("GET", "/", "X-V", "1", "X-V", "2"), true},
		{"header present", &networking.HTTPMatchRequest{Headers: map[string]*networking.StringMatch{"x-v": {}}}, req("GET", "/", "X-V", ""), true},
		{"header regex", &networking.HTTPMatchRequest{Headers: map[string]*networking.StringMatch{"x-v": regex("v[0-9]")}}, req("GET", "/", "X-V", "v7"), true},
		{"fields are ANDed", &networking.HTTPMatchRequest{Uri: prefix("/a"), Headers: map[string]*networking.StringMatch{"x-v": prefix("b")}}, req("GET", "/a", "X-V", "c"), false},
		{"withoutHeaders absent", &networking.HTTPMatchRequest{WithoutHeaders: map[string]*networking.StringMatch{"x-b": exact("yes")}}, req("GET", "/"), true},
		{"withoutHeaders present", &networking.HTTPMatchRequest{WithoutHeaders: map[string]*networking.StringMatch{"x-b": exact("yes")}}, req("GET", "/", "X-B", "yes"), false},
		{"withoutHeaders presence", &networking.HTTPMatchRequest{WithoutHeaders: map[string]*networking.StringMatch{"x-b": {}}}, req("GET", "/", "X-B", "no"), false},
		{"method", &networking.HTTPMatchRequest{Method: exact("POST")}, req("POST", "/"), true},
		{"method mismatch", &networking.HTTPMatchRequest{Method: exact("POST")}, req("GET", "/"), false},
		{"authority", &networking.HTTPMatchRequest{Authority: prefix("api.")}, req("GET", "http://api.example.com/"), true},
		{"scheme", &networking.HTTPMatchRequest{Scheme: exact("http")}, req("GET", "/"), true},
		{"query param", &networking.HTTPMatchRequest{QueryParams: map[string]*networking.StringMatch{"v": exact("a b")}}, req("GET", "/?x=1&v=a%20b&v=c"), true},
		{"query param first value", &networking.HTTPMatchRequest{QueryParams: map[string]*networking.StringMatch{"v": exact("c")}}, req("GET", "/?v=a&v=c"), false},
		{"query param missing", &networking.HTTPMatchRequest{QueryParams: map[string]*networking.StringMatch{"v": {}}}, req("GET", "/?w=1"), false},
		{"jwt claims match nothing", &networking.HTTPMatchRequest{Headers: map[string]*networking.StringMatch{"@request.auth.claims.group": exact("admin")}}, req("GET", "/"), false},
	}
	vs := &policy.Resource{Kind: policy.KindVirtualService, Namespace: "ns", Name: "vs"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &compiler{}
			m, ok := c.compileMatch(vs, "spec.http[0].match[0]", tt.match)
			if !ok {
				t.Fatalf("compileMatch failed: %v", c.problems.list)
			}
			if got := m.matches(tt.req, requestPath(tt.req)); got != tt.want {
				t.Errorf("matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCompileMatchRejectsBadRegex(t *testing.T) {
	t.Parallel()
	vs := &policy.Resource{Kind: policy.KindVirtualService, Namespace: "ns", Name: "vs"}
	for _, m := range []*networking.HTTPMatchRequest{
		{Uri: regex("(")},
		{Headers: map[string]*networking.StringMatch{"x": regex("[")}},
		{QueryParams: map[string]*networking.StringMatch{"q": regex("(?P<")}},
	} {
		c := &compiler{}
		if _, ok := c.compileMatch(vs, "spec.http[0].match[0]", m); ok {
			t.Errorf("compileMatch(%v) succeeded, want a failure", m)
		}
		if c.problems.list.Errors() != 1 {
			t.Errorf("compileMatch(%v) reported %v, want one error", m, c.problems.list)
		}
	}
}

func TestRequestPath(t *testing.T) {
	t.Parallel()
	for target, want := range map[string]string{
		"/a/b?c=d":              "/a/b",
		"/a%2Fb":                "/a%2Fb",
		"http://h.example/x?y=": "/x",
		"/":                     "/",
	} {
		if got := requestPath(httptest.NewRequest("GET", target, nil)); got != want {
			t.Errorf("requestPath(%q) = %q, want %q", target, got, want)
		}
	}
}

func regexRewrite(match, rewrite string) *networking.RegexRewrite {
	return &networking.RegexRewrite{Match: match, Rewrite: rewrite}
}
