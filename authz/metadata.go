package authz

import (
	"fmt"
	"strings"
)

// metadataMatch is one value of an experimental.envoy.filters.<filter>[<key>] condition. Istio
// builds a metadata string matcher for "v" and a list matcher (one element matches) for "[v]".
type metadataMatch struct {
	list bool
	s    stringMatch
}

func newMetadataMatch(v string) metadataMatch {
	if strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]") {
		return metadataMatch{list: true, s: newStringMatch(strings.Trim(v, "[]"))}
	}
	return metadataMatch{s: newStringMatch(v)}
}

// parseMetadataKey splits "experimental.envoy.filters.a.b[c]" into filter "envoy.filters.a.b" and
// key "c", as Istio does.
func parseMetadataKey(key string) (filter, name string, err error) {
	k := strings.TrimSuffix(strings.TrimPrefix(key, "experimental."), "]")
	filter, name, ok := strings.Cut(k, "[")
	if !ok || filter == "" || name == "" {
		return "", "", fmt.Errorf("invalid key %q: want experimental.envoy.filters.<filter>[<key>]", key)
	}
	return filter, name, nil
}

func (m metadataMatch) match(md map[string]map[string]any, filter, key string) bool {
	v, ok := md[filter][key]
	if !ok {
		return false
	}
	switch v := v.(type) {
	case string:
		return !m.list && m.s.match(v, true)
	case []string:
		if !m.list {
			return false
		}
		for _, e := range v {
			if m.s.match(e, true) {
				return true
			}
		}
	case []any:
		if !m.list {
			return false
		}
		for _, e := range v {
			if s, ok := e.(string); ok && m.s.match(s, true) {
				return true
			}
		}
	}
	return false
}
