package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the loader: it must never panic, and a config it accepts must
// render for /debug/config.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*.yaml")
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Add([]byte("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\ndata: {k: '!!'}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		snap, _ := ParseSnapshot(map[string][]byte{"fuzz.yaml": data})
		if snap != nil {
			if _, err := DebugJSON(snap); err != nil {
				t.Fatalf("accepted config does not render: %v", err)
			}
		}
	})
}

// TestAliasBomb: a few kilobytes of anchors that would expand to a billion nodes are rejected
// without expanding them.
func TestAliasBomb(t *testing.T) {
	t.Parallel()
	fan := func(alias string) string { return "[" + strings.Repeat(alias+", ", 999) + alias + "]" }
	doc := "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: bomb}\n" +
		"status:\n  p: &p " + fan("x") + "\n  f: &f {source: {principals: *p}}\n  r: &r {from: " + fan("*f") + "}\n" +
		"spec:\n  rules: " + fan("*r") + "\n"
	_, problems := ParseSnapshot(map[string][]byte{"bomb.yaml": []byte(doc)})
	if err := problems.Err(); err == nil || !strings.Contains(err.Error(), "too large once its aliases are expanded") {
		t.Fatalf("alias bomb not rejected: %v", err)
	}
}
