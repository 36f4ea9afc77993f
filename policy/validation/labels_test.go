package validation

import (
	"strings"
	"testing"
)

func TestValidateLabels(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   []wantFinding
	}{
		{"plain", map[string]string{"app": "reviews", "version": "v1"}, nil},
		{"prefixed key", map[string]string{"app.kubernetes.io/name": "a"}, nil},
		{"empty value", map[string]string{"app": ""}, nil},
		{"dotted value", map[string]string{"v": "1.2_3-b"}, nil},
		{"key with space", map[string]string{"a b": "c"}, []wantFinding{wantErr("f[a b]", "invalid label key")}},
		{"empty key", map[string]string{"": "c"}, []wantFinding{wantErr("f[]", "invalid label key")}},
		{"key name too long", map[string]string{strings.Repeat("k", 64): "c"}, []wantFinding{wantErr("f["+strings.Repeat("k", 64)+"]", "name is too long")}},
		{"key prefix too long", map[string]string{longDomain(254) + "/k": "c"}, []wantFinding{wantErr("f["+longDomain(254)+"/k]", "DNS prefix is too long")}},
		{"value ends with dash", map[string]string{"a": "b-"}, []wantFinding{wantErr("f[a]", "invalid label value")}},
		{"value with slash", map[string]string{"a": "b/c"}, []wantFinding{wantErr("f[a]", "invalid label value")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkHelper(t, func(r *report) { validateLabels("f", tc.labels, r) }, tc.want)
		})
	}
}

func TestValidateWorkloadSelector(t *testing.T) {
	t.Parallel()
	many := map[string]string{}
	for i := range maxSelectorLabels + 1 {
		many["k"+strings.Repeat("x", i%50)+string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676))] = "v"
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   []wantFinding
	}{
		{"valid", map[string]string{"app": "a"}, nil},
		{"no labels", map[string]string{}, []wantFinding{wantWarn("s.matchLabels", "without labels")}},
		{"empty key", map[string]string{"": "a"}, []wantFinding{wantErr("s.matchLabels[]", "empty key is not supported")}},
		{"wildcard key", map[string]string{"a*": "a"}, []wantFinding{wantErr("s.matchLabels[a*]", "wildcard is not supported")}},
		{"wildcard value", map[string]string{"a": "*"}, []wantFinding{wantErr("s.matchLabels[a]", "wildcard is not supported")}},
		{"value too long", map[string]string{"a": strings.Repeat("v", 64)}, []wantFinding{wantErr("s.matchLabels[a]", "longer than 63")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkHelper(t, func(r *report) { validateWorkloadSelector("s", tc.labels, r) }, tc.want)
		})
	}
	t.Run("too many labels", func(t *testing.T) {
		t.Parallel()
		if len(many) <= maxSelectorLabels {
			t.Fatalf("test built only %d labels", len(many))
		}
		checkHelper(t, func(r *report) { validateWorkloadSelector("s", many, r) }, []wantFinding{wantErr("s.matchLabels", "too many labels")})
	})
}
