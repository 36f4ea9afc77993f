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
