package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ParseLabels parses labels written "k=v,k2=v2" (spaces around entries ignored), the form of the
// --labels flag and of the ext_authz `labels` context extension. An empty string is no labels.
func ParseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}

// FormatLabels is the inverse of ParseLabels, keys sorted so equal maps give equal strings.
func FormatLabels(labels map[string]string) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(labels)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(labels[k])
	}
	return b.String()
}
