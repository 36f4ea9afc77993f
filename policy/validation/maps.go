package validation

import (
	"maps"
	"slices"
)

// sortedKeys lets checks over maps report findings in a stable order, so output and tests are
// deterministic.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// keyPath names a map entry the way Kubernetes field paths do, "metadata.labels[app]", since label
// keys hold dots and slashes that would make a dotted path ambiguous.
func keyPath(base, key string) string {
	return base + "[" + key + "]"
}

// setOf builds a lookup set from a fixed list of names.
func setOf(names ...string) map[string]bool {
	s := make(map[string]bool, len(names))
	for _, n := range names {
		s[n] = true
	}
	return s
}
