package authz

import (
	"strings"
	"testing"
)

// FuzzPathTemplate compiles arbitrary templates and matches arbitrary paths without panicking, and
// checks that {**} accepts exactly the suffixes Envoy's [pchar/]* does after any valid prefix.
func FuzzPathTemplate(f *testing.F) {
	f.Add("/foo/{*}/bar/{**}", "/foo/a/bar/b/c")
	f.Add("/{**}", "/")
	f.Add("/api/{*}", "/api/v1")
	f.Add("/foo/{**}/", "/foo//")
	f.Fuzz(func(t *testing.T, template, path string) {
		if tmpl, err := compilePathTemplate(template); err == nil {
			tmpl.match(path)
		}

		seg := strings.Map(func(r rune) rune {
			if r < 0x80 && isPchar(byte(r)) {
				return r
			}
			return -1
		}, template)
		if seg == "" {
			seg = "x"
		}
		for _, prefix := range []string{"/" + seg + "/{**}", "/{*}/{**}"} {
			tmpl, err := compilePathTemplate(prefix)
			if err != nil {
				t.Fatalf("valid template %q refused: %v", prefix, err)
			}
			p := "/" + seg + "/" + path
			if got, want := tmpl.match(p), allPchar(path, true); got != want {
				t.Fatalf("%q on %q = %v, want %v", prefix, p, got, want)
			}
		}
	})
}
