package gateway

import (
	"net/http"
	"net/url"
	"strings"
)

// RouteMatch is one compiled HTTPMatchRequest: every condition must hold (AND). A route built
// from an HTTPRoute with several match blocks becomes several Routes, as Envoy's routes do.
type RouteMatch struct {
	// Path matches the request path without the query: exact, prefix ("/" when the block has no
	// uri) or regex.
	Path        *StringMatch       `yaml:"path"`
	Headers     []*HeaderMatch     `yaml:"headers,omitempty"`
	QueryParams []*QueryParamMatch `yaml:"queryParams,omitempty"`
	// Never is set when the block uses a condition the gateway cannot evaluate yet (JWT claims):
	// such a block matches nothing rather than more than its author meant.
	Never bool `yaml:"never,omitempty"`
}

// HeaderMatch is a header condition. Names are Istio's lowercase header names; ":method",
// ":authority" (or "host"), ":scheme" and ":path" name the request line.
type HeaderMatch struct {
	Name  string       `yaml:"name"`
	Match *StringMatch `yaml:"match"`
	// Invert is for withoutHeaders: the header must not match; a missing header counts as
	// empty unless the match is a presence check.
	Invert bool `yaml:"invert,omitempty"`

	key string // canonical MIME key, computed once
}

// QueryParamMatch is a query parameter condition on the first occurrence of the parameter.
type QueryParamMatch struct {
	Name  string       `yaml:"name"`
	Match *StringMatch `yaml:"match"`
}

// catchAll reports whether the match takes every request, as Istio's IsCatchAllRoute decides:
// such routes go last when VirtualServices merge, and end a VirtualService's route list.
func (m *RouteMatch) catchAll() bool {
	if m.Never || len(m.Headers) > 0 || len(m.QueryParams) > 0 {
		return false
	}
	switch m.Path.Kind {
	case MatchPrefix:
		return m.Path.Value == "/"
	case MatchRegex:
		return m.Path.Value == ".*"
	}
	return false
}

// matches evaluates the match against a request whose raw path (no query) is path.
func (m *RouteMatch) matches(r *http.Request, path string) bool {
	if m.Never || !m.Path.Match(path) {
		return false
	}
	for _, h := range m.Headers {
		if !h.matches(r) {
			return false
		}
	}
	for _, q := range m.QueryParams {
		v, ok := queryParam(r.URL.RawQuery, q.Name)
		if !ok || !q.Match.Match(v) {
			return false
		}
	}
	return true
}

func (h *HeaderMatch) matches(r *http.Request) bool {
	v, ok := headerValue(r, h.Name, h.key)
	if h.Match.Kind == MatchPresent {
		return ok != h.Invert
	}
	if !ok && !h.Invert {
		return false
	}
	return h.Match.Match(v) != h.Invert
}

// headerValue returns a request header as Envoy's matchers see it: several values of one header
// are joined with ",".
func headerValue(r *http.Request, name, key string) (string, bool) {
	switch name {
	case ":method":
		return r.Method, true
	case ":authority", "host":
		return r.Host, true
	case ":scheme":
		return requestScheme(r), true
	case ":path":
		// Envoy matches :path after normalization, query included.
		if x := exchangeFrom(r.Context()); x != nil {
			return x.info.NormalizedPath + query(r), true
		}
		return r.RequestURI, true
	}
	vs := r.Header[key]
	switch len(vs) {
	case 0:
		return "", false
	case 1:
		return vs[0], true
	}
	return strings.Join(vs, ","), true
}

// queryParam finds the first value of a query parameter without building a url.Values map.
func queryParam(rawQuery, name string) (string, bool) {
	for rawQuery != "" {
		var kv string
		kv, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k != name {
			continue
		}
		if strings.IndexByte(v, '%') >= 0 {
			if d, err := url.PathUnescape(v); err == nil {
				v = d
			}
		}
		return v, true
	}
	return "", false
}

// requestPath is the path as the client sent it, without query or fragment: Envoy matches the
// raw :path, not a decoded one.
func requestPath(r *http.Request) string {
	p := r.RequestURI
	if p == "" || p[0] != '/' {
		// Absolute-form ("GET http://host/x") or "*".
		p = r.URL.EscapedPath()
	}
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	return p
}
