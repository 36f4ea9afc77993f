package helm

import (
	"slices"
	"testing"
)

// TestCRDs checks the Gatehouse kinds the chart installs: namespaced, gatehouse.dev/v1alpha1
// served and stored, with spec left to the binary's strict decoding.
func TestCRDs(t *testing.T) {
	t.Parallel()
	docs := documents(t, Render(t, Options{IncludeCRDs: true}))
	var kinds []string
	for _, crd := range ofKind(docs, "CustomResourceDefinition") {
		kind := str(crd, "spec", "names", "kind")
		kinds = append(kinds, kind)
		if str(crd, "spec", "group") != "gatehouse.dev" || str(crd, "spec", "scope") != "Namespaced" {
			t.Errorf("CRD %s: group %q scope %q, want gatehouse.dev, Namespaced", kind, str(crd, "spec", "group"), str(crd, "spec", "scope"))
		}
		versions := list(crd, "spec", "versions")
		if len(versions) != 1 || str(versions[0], "name") != "v1alpha1" || dig(versions[0], "served") != true || dig(versions[0], "storage") != true {
			t.Errorf("CRD %s: versions %v, want v1alpha1 served and stored", kind, versions)
			continue
		}
		spec := dig(versions[0], "schema", "openAPIV3Schema", "properties", "spec")
		if dig(spec, "x-kubernetes-preserve-unknown-fields") != true || str(spec, "type") != "object" {
			t.Errorf("CRD %s: spec schema %v, want an object preserving unknown fields", kind, spec)
		}
	}
	slices.Sort(kinds)
	if want := []string{"ACMEIssuer", "BootstrapToken", "OIDCLogin", "Settings"}; !slices.Equal(kinds, want) {
		t.Errorf("CRD kinds %v, want %v", kinds, want)
	}
}
