package validation

import (
	"strings"
	"testing"
)

func TestPathTemplateProblem(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, path string
		want       string // substring of the reason; empty for a valid path
	}{
		{"plain path", "/api/v1/items", ""},
		{"plain prefix", "/api/*", ""},
		{"single segment", "/foo/{*}", ""},
		{"any segments last", "/foo/{**}", ""},
		{"any segments then trailing slash", "/foo/{**}/", ""},
		{"one then any", "/foo/{*}/bar/{**}", ""},
		{"literal after any segments", "/foo/{**}/bar", ""},
		{"pchar literals", "/a-b.c_d~e%20f!$&'()+,;:@=/{*}", ""},
		{"{**} before {*}", "/{**}/foo/{*}", "{**} is not the last operator"},
		{"{**} twice", "/{**}/{**}", "{**} is not the last operator"},
		{"operator glued to text", "/foo/{*}.txt", "beyond a supported path template"},
		{"named variable", "/foo/{name}", "beyond a supported path template"},
		{"brace in a plain path", "/foo{bar}", "beyond a supported path template"},
		{"empty braces", "/foo/{}", "beyond a supported path template"},
		{"glob beside a template", "/*/baz/{*}", "not a valid string literal"},
		{"double glob beside a template", "/**/baz/{*}", "not a valid string literal"},
		{"empty segment in a template", "/foo//{*}", "not a valid string literal"},
		{"space in a template", "/a b/{*}", "not a valid string literal"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := pathTemplateProblem(tc.path)
			if tc.want == "" && got != "" {
				t.Fatalf("pathTemplateProblem(%q) = %q, want none", tc.path, got)
			}
			if tc.want != "" && !strings.Contains(got, tc.want) {
				t.Fatalf("pathTemplateProblem(%q) = %q, want it to contain %q", tc.path, got, tc.want)
			}
		})
	}
}
