package meshxds

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/ca/posture"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current output")

// TestGolden runs the whole translation, config → ports → posture → resources, for each
// testdata/<case>.in.yaml and compares the result with testdata/<case>.golden.json.
func TestGolden(t *testing.T) {
	t.Parallel()
	inputs, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := loadSnapshot(t, in)
			pol := posture.Effective(cfg, posture.Workload{Namespace: webProxy.Namespace, Labels: webProxy.Labels})
			snap, err := Build(webProxy, InboundPorts(cfg, webProxy), pol, "1")
			if err != nil {
				t.Fatal(err)
			}
			validateSnapshot(t, snap)
			got := snapshotJSON(t, snap)
			golden := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./ca/meshxds -run TestGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the output; rerun with -update and review the diff.\ngot:\n%s", golden, got)
			}
		})
	}
}
