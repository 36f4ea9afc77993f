package validation

import (
	"testing"
)

func TestValidateHeaderValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		value  string
		reason string
	}{
		{"", ""},
		{"plain", ""},
		{"100%%", ""},
		{"%HOSTNAME%", ""},
		{"prefix %HOSTNAME% suffix", ""},
		{"%START_TIME(%s.%3f)%", ""},
		{`%REQ(["x-a", "x-b"])%`, ""},
		{"%REQ( [\"x\"] ) %", ""},
		{"tab\there", ""},
		{"abc%", "un-escaped %"},
		{"%START_TIME", "un-terminated variable"},
		{"%REQ(x", "un-terminated variable"},
		{`%REQ(["x" "y"])%`, "expecting ',' or ']'"},
		{`%REQ([x])%`, `expecting '"'`},
		{`%REQ(["x"] x)%`, "expecting ')'"},
		{`%REQ(x) x`, "expecting '%'"},
		{"a\x00b", "control characters"},
	} {
		t.Run(tc.value, func(t *testing.T) {
			t.Parallel()
			var want []wantFinding
			if tc.reason != "" {
				want = []wantFinding{wantErr("h", tc.reason)}
			}
			checkHelper(t, func(r *report) { validateHeaderValue("h", tc.value, r) }, want)
		})
	}
}

func TestIsJWTClaimRoute(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"@request.auth.claims.group":   true,
		"@request.auth.claims.a.b":     true,
		"@request.auth.claims[group]":  true,
		"@request.auth.claims[a][b.c]": true,
		"@request.auth.claims":         false,
		"@request.auth.claims.":        false,
		"@request.auth.claims[]":       false,
		"@request.auth.claims.a..b":    false,
		"x-user":                       false,
		"@request.auth.claimsgroup":    false,
	} {
		if got := isJWTClaimRoute(name); got != want {
			t.Errorf("isJWTClaimRoute(%q) = %v, want %v", name, got, want)
		}
	}
}
