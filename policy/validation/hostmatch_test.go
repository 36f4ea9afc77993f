package validation

import (
	"testing"
)

func TestHostMatching(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b            string
		overlap, subset bool
	}{
		{"a.com", "a.com", true, true},
		{"a.com", "b.com", false, false},
		{"a.foo.com", "*.foo.com", true, true},
		{"*.foo.com", "a.foo.com", true, false},
		{"*.a.foo.com", "*.foo.com", true, true},
		{"*.foo.com", "*.a.foo.com", true, false},
		{"*.foo.com", "*.bar.com", false, false},
		{"a.com", "*", true, true},
		{"*", "a.com", true, false},
	} {
		if got := hostsOverlap(tc.a, tc.b); got != tc.overlap {
			t.Errorf("hostsOverlap(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.overlap)
		}
		if got := hostSubsetOf(tc.a, tc.b); got != tc.subset {
			t.Errorf("hostSubsetOf(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.subset)
		}
	}
}
