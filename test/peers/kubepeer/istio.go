package kubepeer

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// istioCRDFile is where istio.io/api keeps the CustomResourceDefinitions of every Istio kind (all
// their served versions), as istioctl and the base Helm chart install them.
const istioCRDFile = "kubernetes/customresourcedefinitions.gen.yaml"

// IstioCRDs returns the path of Istio's CRD YAML in the istio.io/api module our go.mod requires,
// from the module cache: the tests apply Istio's own definitions, not a copy in this repository.
func IstioCRDs(t testing.TB) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "go", "list", "-m", "-f", "{{.Dir}}", "istio.io/api").Output()
	if err != nil {
		t.Fatalf("go list -m istio.io/api: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		t.Fatal("go list -m istio.io/api: the module is not in the module cache: run `go mod download istio.io/api`")
	}
	file := filepath.Join(dir, istioCRDFile)
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("istio.io/api: %v", err)
	}
	return file
}

// ApplyIstioCRDs applies Istio's CRDs and returns once the API server serves every kind in them.
// The apply is server-side: the CRDs are too big for the last-applied annotation a client-side
// apply would store on them.
func (p *Peer) ApplyIstioCRDs(t testing.TB) {
	t.Helper()
	file := IstioCRDs(t)
	if _, err := p.Kubectl(t, "apply", "--server-side", "-f", file); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Kubectl(t, "wait", "--for=condition=Established", "--timeout=60s", "-f", file); err != nil {
		t.Fatal(err)
	}
}
