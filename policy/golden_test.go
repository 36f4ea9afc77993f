package policy

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with the golden file, or rewrites it under -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs (run go test -update to accept):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

// TestValidateGolden loads each fixture on its own and compares what `gatehouse validate` would
// print. good-* fixtures must have no errors (Istio's own warnings may remain); bad-* exactly one
// error line; warn-* only warnings.
func TestValidateGolden(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/validate/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatal("no fixtures", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cfg := Parse(map[string][]byte{filepath.Base(f): data}, LoadOptions{})
			var b strings.Builder
			for _, p := range cfg.Problems {
				b.WriteString(p.String() + "\n")
			}
			golden(t, strings.TrimSuffix(f, ".yaml")+".golden", []byte(b.String()))
			errs := cfg.Problems.Errors()
			switch base := filepath.Base(f); {
			case strings.HasPrefix(base, "good-"):
				if errs != 0 {
					t.Errorf("want no errors, got:\n%s", b.String())
				}
			case strings.HasPrefix(base, "bad-"):
				if errs != 1 {
					t.Errorf("want exactly one error, got %d:\n%s", errs, b.String())
				}
			case strings.HasPrefix(base, "warn-"):
				if errs != 0 || len(cfg.Problems) == 0 {
					t.Errorf("want only warnings, got:\n%s", b.String())
				}
			}
		})
	}
}

// TestDecodeGolden checks what each kind decodes to, in every served version, by the snapshot's
// /debug/config rendering.
func TestDecodeGolden(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("testdata/decode/*.yaml")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			snap, problems := ParseSnapshot(map[string][]byte{filepath.Base(f): data})
			if snap == nil {
				t.Fatalf("rejected: %v", problems.Err())
			}
			out, err := DebugJSON(snap)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(f, ".yaml")+".golden.json", append(out, '\n'))
		})
	}
}
