package gateway

import (
	"strings"
	"testing"
)

// TestAccessLogFormatWarnings: a custom accessLogFormat is served, and what in it will not
// print as written is a warning on the mesh ConfigMap, never an error.
func TestAccessLogFormatWarnings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, encoding, format string
		want                   []string
	}{
		{"clean text", "TEXT", `%REQ(:METHOD)% %RESPONSE_CODE%`, nil},
		{"unknown operator", "TEXT", `%REQ(:METHOD)% %NOPE%`, []string{"data.mesh.accessLogFormat: position 15: unknown command operator %NOPE%"}},
		{"not JSON", "JSON", `%REQ(:METHOD)%`, []string{"Istio's default JSON format is used"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mesh := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |\n" +
				"    accessLogFile: /dev/stdout\n    accessLogEncoding: " + tc.encoding + "\n    accessLogFormat: '" + tc.format + "'\n"
			al, problems := accessLogConfig(snapshot(t, 1, mesh))
			if al == nil || al.Format != tc.format {
				t.Fatalf("access log %+v, want format %q", al, tc.format)
			}
			if len(problems) != len(tc.want) {
				t.Fatalf("problems %v, want %d", problems, len(tc.want))
			}
			for i, p := range problems {
				if !strings.Contains(p.String(), tc.want[i]) {
					t.Errorf("problem %q, want it to contain %q", p.String(), tc.want[i])
				}
			}
			if err := problems.Err(); err != nil {
				t.Errorf("a format problem is an error: %v", err)
			}
		})
	}
}
