// Package helm renders the Gatehouse chart (deploy/helm/gatehouse) with the Helm test/peers
// builds: its tests golden-test `helm template` and hold `helm lint --strict` clean, and Render
// gives the same manifests to a server-side dry run against a real API server.
package helm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-dev/gatehouse/test/peers/helmpeer"
)

// The release the tests render: Istio's namespace, so the chart's defaults match Istio's names.
const (
	Release   = "gatehouse"
	Namespace = "istio-system"
)

// Options select what Render renders.
type Options struct {
	// ValuesFiles are passed as -f, in order.
	ValuesFiles []string
	// Set are --set arguments (key=value).
	Set []string
	// IncludeCRDs adds the chart's crds/ ahead of the templates, as `helm install` applies them.
	IncludeCRDs bool
}

// ChartDir is the chart's directory in this checkout.
func ChartDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "deploy", "helm", "gatehouse")
}

// Template runs `helm template` on the chart and returns the manifests, or helm's error (a
// failed render names the value it refused).
func Template(ctx context.Context, home string, o Options) ([]byte, error) {
	args := []string{"template", Release, ChartDir(), "--namespace", Namespace}
	if o.IncludeCRDs {
		args = append(args, "--include-crds")
	}
	for _, f := range o.ValuesFiles {
		args = append(args, "--values", f)
	}
	for _, s := range o.Set {
		args = append(args, "--set", s)
	}
	return helmpeer.Run(ctx, home, args...)
}

// Render is Template for a test: it skips the test when helm is not installed and fails it
// when the chart does not render.
func Render(t testing.TB, o Options) []byte {
	t.Helper()
	helmpeer.SkipIfMissing(t)
	out, err := Template(t.Context(), t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Documents splits rendered manifests into their objects, skipping empty documents.
func Documents(manifests []byte) ([]map[string]any, error) {
	var docs []map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(manifests))
	for i := 0; ; i++ {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("rendered document %d: %w", i, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}
