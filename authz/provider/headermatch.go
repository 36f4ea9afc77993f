package provider

import (
	"fmt"
	"strings"
)

// headerMatcher is one of the header lists of an ext_authz provider (includeRequestHeadersInCheck,
// headersToUpstreamOnAllow, …) as istiod translates it into Envoy's ListStringMatcher: "abc*" is
// a prefix, "*abc" a suffix, anything else exact, all ignoring case (header names are
// case-insensitive).
type headerMatcher struct {
	exact    map[string]bool
	prefixes []string
	suffixes []string
}

// compileHeaders compiles a header list; nil for an empty list, which callers read as "not set".
// A lone "*" is refused, as istiod refuses it.
func compileHeaders(field string, list []string) (*headerMatcher, error) {
	if len(list) == 0 {
		return nil, nil
	}
	m := &headerMatcher{exact: map[string]bool{}}
	for i, h := range list {
		h = strings.ToLower(h)
		switch {
		case h == "*":
			return nil, fmt.Errorf("%s[%d]: a single wildcard (\"*\") is not supported, change it to either prefix or suffix match", field, i)
		case strings.HasPrefix(h, "*"):
			m.suffixes = append(m.suffixes, h[1:])
		case strings.HasSuffix(h, "*"):
			m.prefixes = append(m.prefixes, h[:len(h)-1])
		default:
			m.exact[h] = true
		}
	}
	return m, nil
}

// matches reports whether a lower-case header name is in the list.
func (m *headerMatcher) matches(lower string) bool {
	if m == nil {
		return false
	}
	if m.exact[lower] {
		return true
	}
	for _, p := range m.prefixes {
		if strings.HasPrefix(lower, p) {
			return true
		}
	}
	for _, s := range m.suffixes {
		if strings.HasSuffix(lower, s) {
			return true
		}
	}
	return false
}
