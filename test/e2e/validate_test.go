package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// TestValidateCLI checks the exit status and output of `gatehouse validate` on our fixtures.
func TestValidateCLI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path     string
		exit     int
		contains string
	}{
		{"../../deploy/quickstart", 0, ""},
		{"../../policy/testdata/validate/good-bookinfo.yaml", 0, ""},
		{"../../policy/testdata/validate/good-reviews-routing.yaml", 0, ""},
		{"../../policy/testdata/validate/bad-simple-no-credentials.yaml", 1,
			"bad-simple-no-credentials.yaml:9: Gateway/istio-system/gw: spec.servers[0].tls: SIMPLE"},
		{"../../policy/testdata/validate/bad-enum.yaml", 1, `spec.servers[0].tls.mode: unknown value "SIMPEL"`},
		{"../../policy/testdata/validate/warn-unknown-gateway.yaml", 0, "warning: VirtualService/default/shop: spec.gateways[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			out, err := exec.Command(bin, "validate", tt.path).Output()
			exit := 0
			if ee, ok := err.(*exec.ExitError); ok {
				exit = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if exit != tt.exit {
				t.Errorf("exit %d, want %d\n%s", exit, tt.exit, out)
			}
			if !strings.Contains(string(out), tt.contains) {
				t.Errorf("output lacks %q:\n%s", tt.contains, out)
			}
		})
	}
}

// TestValidateRego: `gatehouse validate` compiles the Rego a Settings opa entry serves, so a
// syntax error is reported with the module's file:line and exit 1 before anything runs it.
func TestValidateRego(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "mesh.yaml", `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    extensionProviders:
    - name: opa-ext-authz
      envoyExtAuthzGrpc: {service: opa.example.internal, port: 9191}
---
apiVersion: gatehouse.dev/v1alpha1
kind: Settings
metadata: {name: gatehouse, namespace: istio-system}
spec:
  opa:
  - provider: opa-ext-authz
    modules:
      authz.rego: |
        package envoy.authz

        default allow := false
        allow if {
          input.attributes.request.http.method == "GET"
`)
	out, err := exec.Command(bin, "validate", dir).Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("validate: %v, want exit 1\n%s", err, out)
	}
	if !strings.Contains(string(out), "authz.rego:") || !strings.Contains(string(out), "opa-ext-authz") {
		t.Errorf("output does not name the provider and the module's line:\n%s", out)
	}
}
