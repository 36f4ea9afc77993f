package validation

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	meshconfig "istio.io/api/mesh/v1alpha1"
	security "istio.io/api/security/v1beta1"
)

// secWant is one expected finding: the exact field, the severity and a key part of the reason.
type secWant struct {
	field  string
	sev    Severity
	reason string
}

func secErr(field, reason string) secWant  { return secWant{field, Error, reason} }
func secWarn(field, reason string) secWant { return secWant{field, Warning, reason} }

// securityCase is one table row: Validate(meta, spec) must yield exactly the wanted findings
// (none when want is empty), so a rule that fires twice or a stray finding fails the row.
type securityCase struct {
	name string
	meta Meta
	spec proto.Message
	want []secWant
}

func runSecurityCases(t *testing.T, cases []securityCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Validate(tc.meta, tc.spec)
			matched := make([]bool, len(got))
			for _, w := range tc.want {
				found := false
				for i, f := range got {
					if !matched[i] && f.Field == w.field && f.Severity == w.sev && strings.Contains(f.Reason, w.reason) {
						matched[i], found = true, true
						break
					}
				}
				if !found {
					t.Errorf("missing %s at %q containing %q; got:\n%s", secSevName(w.sev), w.field, w.reason, secListFindings(got))
				}
			}
			for i, f := range got {
				if !matched[i] {
					t.Errorf("unexpected finding %s", f)
				}
			}
		})
	}
}

func secSevName(s Severity) string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

func secListFindings(fs []Finding) string {
	if len(fs) == 0 {
		return "  (none)"
	}
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %s [%s]\n", f, f.Field)
	}
	return b.String()
}

// secFromJSON fills msg from a JSON snippet written as users write YAML; a broken snippet is a bug
// in the test table, so it panics.
func secFromJSON[M proto.Message](msg M, js string) M {
	if err := protojson.Unmarshal([]byte(js), msg); err != nil {
		panic(fmt.Sprintf("bad test JSON %s: %v", js, err))
	}
	return msg
}

func authzJSON(js string) *security.AuthorizationPolicy {
	return secFromJSON(&security.AuthorizationPolicy{}, js)
}

func reqAuthnJSON(js string) *security.RequestAuthentication {
	return secFromJSON(&security.RequestAuthentication{}, js)
}

func peerAuthnJSON(js string) *security.PeerAuthentication {
	return secFromJSON(&security.PeerAuthentication{}, js)
}

func meshJSON(js string) *meshconfig.MeshConfig {
	return secFromJSON(&meshconfig.MeshConfig{}, js)
}

// dryRun is metadata carrying the dry-run annotation.
func dryRun(v string) Meta {
	return Meta{Name: "p", Namespace: "ns", Annotations: map[string]string{dryRunAnnotation: v}}
}
