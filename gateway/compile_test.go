package gateway

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-dev/gatehouse/policy"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// TestCompileGolden compiles every testdata/compile/*.in.yaml for the default workload
// (istio=ingressgateway in istio-system) and compares the Table and problems with *.out.yaml.
func TestCompileGolden(t *testing.T) {
	t.Parallel()
	ins, err := filepath.Glob("testdata/compile/*.in.yaml")
	if err != nil || len(ins) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := compileFile(t, in)
			out := strings.TrimSuffix(in, ".in.yaml") + ".out.yaml"
			if *update {
				if err := os.WriteFile(out, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if string(got) != string(want) {
				t.Errorf("%s differs from the compiled Table (run with -update to accept):\n%s", out, diff(string(want), string(got)))
			}
		})
	}
}

// compileFile parses one input file into a snapshot and renders what Compile makes of it.
func compileFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	snap, ps := policy.ParseSnapshot(map[string][]byte{filepath.Base(path): data})
	if snap == nil {
		t.Fatalf("input does not load:\n%v", ps)
	}
	table, problems := Compile(snap, CompileOptions{})
	doc := struct {
		Problems []string `yaml:"problems,omitempty"`
		Table    *Table   `yaml:"table"`
	}{Table: table}
	for _, p := range problems {
		doc.Problems = append(doc.Problems, p.String())
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// diff shows the first differing line of two texts, enough to find a golden mismatch.
func diff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\n- " + w + "\n+ " + g
		}
	}
	return ""
}
