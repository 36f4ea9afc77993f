package validation

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	meshconfig "istio.io/api/mesh/v1alpha1"
	networking "istio.io/api/networking/v1alpha3"
	security "istio.io/api/security/v1beta1"
)

// wantFinding is one expected finding of a test row: the exact field path, the severity
// and a key part of the reason.
type wantFinding struct {
	field  string
	sev    Severity
	reason string
}

func wantErr(field, reason string) wantFinding  { return wantFinding{field, Error, reason} }
func wantWarn(field, reason string) wantFinding { return wantFinding{field, Warning, reason} }

// validationCase is one table row: validating spec must yield exactly the wanted findings, so a rule
// that fires twice, or a stray finding, fails the row.
type validationCase struct {
	name string
	meta Meta
	spec proto.Message
	want []wantFinding
}

func runCases(t *testing.T, cases []validationCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			meta := tc.meta
			if meta.Name == "" {
				meta.Name, meta.Namespace = "test", "default"
			}
			checkFindings(t, Validate(meta, tc.spec), tc.want)
		})
	}
}

// checkFindings matches got against want one to one.
func checkFindings(t *testing.T, got []Finding, want []wantFinding) {
	t.Helper()
	matched := make([]bool, len(got))
	for _, w := range want {
		found := false
		for i, f := range got {
			if !matched[i] && f.Field == w.field && f.Severity == w.sev && strings.Contains(f.Reason, w.reason) {
				matched[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("missing %v at %q containing %q; got:\n%s", severityWord(w.sev), w.field, w.reason, describeFindings(got))
		}
	}
	for i, f := range got {
		if !matched[i] {
			t.Errorf("unexpected finding %s [%s]", f, f.Field)
		}
	}
}

// checkHelper runs one helper against a fresh report and matches its findings.
func checkHelper(t *testing.T, run func(r *report), want []wantFinding) {
	t.Helper()
	r := &report{}
	run(r)
	checkFindings(t, r.findings, want)
}

func severityWord(s Severity) string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

func describeFindings(fs []Finding) string {
	if len(fs) == 0 {
		return "  (none)"
	}
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %s [%s]\n", f, f.Field)
	}
	return b.String()
}

// specFromJSON fills msg from a JSON snippet written as users write YAML; a broken snippet is a
// bug in the table, so it panics.
func specFromJSON[M proto.Message](msg M, js string) M {
	if err := protojson.Unmarshal([]byte(js), msg); err != nil {
		panic(fmt.Sprintf("bad test JSON %s: %v", js, err))
	}
	return msg
}

func gatewayJSON(js string) *networking.Gateway {
	return specFromJSON(&networking.Gateway{}, js)
}

func virtualServiceJSON(js string) *networking.VirtualService {
	return specFromJSON(&networking.VirtualService{}, js)
}

func destinationRuleJSON(js string) *networking.DestinationRule {
	return specFromJSON(&networking.DestinationRule{}, js)
}

func serviceEntryJSON(js string) *networking.ServiceEntry {
	return specFromJSON(&networking.ServiceEntry{}, js)
}

func workloadEntryJSON(js string) *networking.WorkloadEntry {
	return specFromJSON(&networking.WorkloadEntry{}, js)
}

func authzJSON(js string) *security.AuthorizationPolicy {
	return specFromJSON(&security.AuthorizationPolicy{}, js)
}

func reqAuthnJSON(js string) *security.RequestAuthentication {
	return specFromJSON(&security.RequestAuthentication{}, js)
}

func peerAuthnJSON(js string) *security.PeerAuthentication {
	return specFromJSON(&security.PeerAuthentication{}, js)
}

func meshJSON(js string) *meshconfig.MeshConfig {
	return specFromJSON(&meshconfig.MeshConfig{}, js)
}

// dryRun is metadata carrying the dry-run annotation.
func dryRun(v string) Meta {
	return Meta{Name: "p", Namespace: "ns", Annotations: map[string]string{dryRunAnnotation: v}}
}
