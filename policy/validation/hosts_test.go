package validation

import (
	"strings"
	"testing"
)

// longDomain is a syntactically valid domain of exactly n bytes.
func longDomain(n int) string {
	s := strings.Repeat(strings.Repeat("a", 49)+".", n/50+1)[:n]
	return strings.TrimSuffix(s, ".") + strings.Repeat("a", n-len(strings.TrimSuffix(s, ".")))
}

func TestValidateFQDN(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		host   string
		reason string
	}{
		{"example.com", ""},
		{"Example.COM", ""},
		{"istio.io.", ""},
		{"reviews", ""},
		{"a-b.c-d.io", ""},
		{"", "empty domain name not allowed"},
		{longDomain(256), "too long (max 255)"},
		{"foo.123", "cannot be all-numeric"},
		{"-a.com", `label "-a" invalid`},
		{"a..com", `label "" invalid`},
		{"*.example.com", `label "*" invalid`},
		{strings.Repeat("a", 64) + ".com", "invalid (label"},
		{"a_b.com", `label "a_b" invalid`},
	} {
		t.Run(tc.host, func(t *testing.T) {
			t.Parallel()
			var want []wantFinding
			if tc.reason != "" {
				want = append(want, wantErr("f", tc.reason))
			}
			checkHelper(t, func(r *report) { validateFQDN("f", tc.host, r) }, want)
		})
	}
}

func TestValidateWildcardDomain(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		host   string
		reason string
	}{
		{"*", ""},
		{"*.example.com", ""},
		{"*-api.example.com", ""},
		{"*api.example.com", ""},
		{"example.com", ""},
		{"", "empty domain name not allowed"},
		{"a.*.com", `label "*" invalid`},
		{"**.com", `label "**" invalid`},
		{"*.", ""},
		{"*.123", "all-numeric"},
	} {
		t.Run(tc.host, func(t *testing.T) {
			t.Parallel()
			var want []wantFinding
			if tc.reason != "" {
				want = append(want, wantErr("f", tc.reason))
			}
			checkHelper(t, func(r *report) { validateWildcardDomain("f", tc.host, r) }, want)
		})
	}
}

func TestValidateGatewayHost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		host string
		want []wantFinding
	}{
		{"*", nil},
		{"*/*", nil},
		{"./a.example.com", nil},
		{"prod/*.example.com", nil},
		{"192.168.0.1", nil},
		{"a", []wantFinding{wantErr("f", "short names")}},
		{"ns/a", []wantFinding{wantErr("f", "short names")}},
		{"~/a.com", []wantFinding{wantErr("f", "invalid namespace value")}},
		{"ns/", []wantFinding{wantErr("f", "cannot be empty"), wantErr("f", "short names"), wantErr("f", "empty domain name")}},
		{"*a.example.com", []wantFinding{wantErr("f", "partial wildcard")}},
	} {
		t.Run(tc.host, func(t *testing.T) {
			t.Parallel()
			checkHelper(t, func(r *report) { validateGatewayHost("f", tc.host, r) }, tc.want)
		})
	}
}
