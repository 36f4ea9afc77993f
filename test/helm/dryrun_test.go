package helm

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/test/peers/kubepeer"
)

// TestChartServerDryRun sends what `helm install` would create to a real API server with
// `kubectl apply --dry-run=server` (issue 12): the server runs its defaulting, schema validation
// and admission on every object without storing it, so a field a Kubernetes version does not
// know, a wrong type or a bad enum in the chart fails here rather than at a user's install.
// Istio's CRDs are applied first, as the chart documents them as a prerequisite, and so are the
// chart's own, as `helm install` creates crds/ before rendering the templates.
func TestChartServerDryRun(t *testing.T) {
	t.Parallel()
	kubepeer.SkipIfMissing(t)
	k := kubepeer.Start(t, kubepeer.Options{})
	k.ApplyIstioCRDs(t)
	if out, err := k.KubectlInput(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: "+Namespace+"}\n", "apply", "-f", "-"); err != nil {
		t.Fatalf("namespace %s: %v\n%s", Namespace, err, out)
	}
	crds := filepath.Join(ChartDir(), "crds")
	if out, err := k.Kubectl(t, "apply", "-f", crds); err != nil {
		t.Fatalf("the chart's CRDs: %v\n%s", err, out)
	}
	if out, err := k.Kubectl(t, "wait", "--for=condition=Established", "--timeout=60s", "-f", crds); err != nil {
		t.Fatalf("the chart's CRDs: %v\n%s", err, out)
	}
	for _, r := range renders {
		t.Run(r.name, func(t *testing.T) {
			o := r.options()
			o.IncludeCRDs = true
			manifests := Render(t, o)
			out, err := k.KubectlInput(t, string(manifests), "apply", "--dry-run=server", "-f", "-")
			if err != nil {
				t.Fatalf("kubectl apply --dry-run=server of the chart rendered with %s: %v\n%s", orDefaults(r.values), err, out)
			}
			// kubectl prints one line per object the server accepted; none may be missing.
			docs, err := Documents(manifests)
			if err != nil {
				t.Fatal(err)
			}
			var accepted int
			for line := range strings.Lines(out) {
				if strings.HasSuffix(strings.TrimSpace(line), "(server dry run)") {
					accepted++
				}
			}
			if accepted != len(docs) {
				t.Errorf("the server accepted %d objects of the %d rendered with %s:\n%s", accepted, len(docs), orDefaults(r.values), out)
			}
		})
	}
}
