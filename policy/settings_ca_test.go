package policy

import (
	"strings"
	"testing"
	"time"
)

// settingsCA writes a Settings resource whose spec.ca block (indented under "  ca:", at line 5)
// is body; the first line of body is line 6.
func settingsCA(body string) string {
	return "apiVersion: gatehouse.dev/v1alpha1\nkind: Settings\nmetadata: {name: gatehouse, namespace: istio-system}\nspec:\n  ca:\n" + body
}

// TestSettingsCA: Settings.ca is validated with defaults filled, each problem at its field's
// line, and the snapshot carries the effective values.
func TestSettingsCA(t *testing.T) {
	t.Parallel()
	const at = "settings.yaml:"
	const res = "Settings/istio-system/gatehouse: "
	def := DefaultSettings().CA
	for _, tt := range []struct {
		name string
		body string
		want string     // a substring of the one error; "" for none
		ca   CASettings // the effective settings when want is ""
	}{
		{"empty", "    {}\n", "", def},
		{"ttl only", "    workloadCertTTL: 1h\n", "", CASettings{Duration(time.Hour), def.MaxWorkloadCertTTL, def.RateLimit}},
		{"all", "    workloadCertTTL: 12h\n    maxWorkloadCertTTL: 48h\n    rateLimit: {perSecond: 0.5, burst: 1}\n", "",
			CASettings{Duration(12 * time.Hour), Duration(48 * time.Hour), CARateLimit{0.5, 1}}},
		{"ttl equals max", "    workloadCertTTL: 2160h\n", "", CASettings{Duration(2160 * time.Hour), def.MaxWorkloadCertTTL, def.RateLimit}},
		{"ten years", "    maxWorkloadCertTTL: 87600h\n", "", CASettings{def.WorkloadCertTTL, Duration(87600 * time.Hour), def.RateLimit}},
		{"zero ttl", "    workloadCertTTL: 0s\n", at + "6: " + res + "spec.ca.workloadCertTTL: must be positive (leave it out for the default)", CASettings{}},
		{"zero max", "    maxWorkloadCertTTL: 0s\n", at + "6: " + res + "spec.ca.maxWorkloadCertTTL: must be positive", CASettings{}},
		{"negative ttl", "    workloadCertTTL: -1h\n", `must not be negative`, CASettings{}},
		{"ttl over max", "    workloadCertTTL: 48h\n    maxWorkloadCertTTL: 24h\n", at + "6: " + res + "spec.ca.workloadCertTTL: workloadCertTTL 48h0m0s exceeds maxWorkloadCertTTL 24h0m0s", CASettings{}},
		{"ttl over default max", "    workloadCertTTL: 2161h\n", "spec.ca.workloadCertTTL: workloadCertTTL 2161h0m0s exceeds maxWorkloadCertTTL 2160h0m0s", CASettings{}},
		{"max under default ttl", "    maxWorkloadCertTTL: 1h\n", at + "6: " + res + "spec.ca.maxWorkloadCertTTL: workloadCertTTL 24h0m0s exceeds maxWorkloadCertTTL 1h0m0s", CASettings{}},
		{"max over ten years", "    maxWorkloadCertTTL: 87601h\n", "spec.ca.maxWorkloadCertTTL: 87601h0m0s: at most 87600h0m0s (10 years)", CASettings{}},
		{"zero rate", "    rateLimit:\n      perSecond: 0\n", at + "7: " + res + "spec.ca.rateLimit.perSecond: must be positive", CASettings{}},
		{"negative rate", "    rateLimit: {perSecond: -1}\n", at + "6: " + res + "spec.ca.rateLimit.perSecond: -1: must be a finite positive number", CASettings{}},
		{"infinite rate", "    rateLimit: {perSecond: .inf}\n", "spec.ca.rateLimit.perSecond: +Inf: must be a finite positive number", CASettings{}},
		{"nan rate", "    rateLimit: {perSecond: .nan}\n", "spec.ca.rateLimit.perSecond: NaN: must be a finite positive number", CASettings{}},
		{"zero burst", "    rateLimit: {burst: 0}\n", "spec.ca.rateLimit.burst: must be positive", CASettings{}},
		{"negative burst", "    rateLimit: {burst: -5}\n", "spec.ca.rateLimit.burst: -5: must be at least 1", CASettings{}},
		{"unknown field", "    trustDomain: example.org\n", at + "6: " + res + `spec.ca.trustDomain: unknown field "trustDomain"`, CASettings{}},
		{"bad duration", "    workloadCertTTL: 1d\n", `invalid duration "1d"`, CASettings{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			snap, problems := ParseSnapshot(map[string][]byte{"settings.yaml": []byte(settingsCA(tt.body))})
			var errs []string
			for _, p := range problems {
				if p.Severity == Error {
					errs = append(errs, p.String())
				}
			}
			if tt.want != "" {
				if len(errs) != 1 || !strings.Contains(errs[0], tt.want) {
					t.Errorf("want one error containing %q, got %q", tt.want, errs)
				}
				return
			}
			if snap == nil {
				t.Fatalf("rejected: %q", errs)
			}
			if got := snap.Settings.CA; got != tt.ca {
				t.Errorf("got %+v, want %+v", got, tt.ca)
			}
		})
	}
}

// TestDefaultSettingsCA: istiod's defaults, and what the snapshot holds with no Settings.
func TestDefaultSettingsCA(t *testing.T) {
	t.Parallel()
	want := CASettings{Duration(24 * time.Hour), Duration(90 * 24 * time.Hour), CARateLimit{PerSecond: 10, Burst: 20}}
	if got := DefaultSettings().CA; got != want {
		t.Errorf("DefaultSettings().CA = %+v, want %+v", got, want)
	}
	snap, problems := ParseSnapshot(map[string][]byte{})
	if snap == nil {
		t.Fatalf("rejected: %v", problems.Err())
	}
	if got := snap.Settings.CA; got != want {
		t.Errorf("snapshot CA = %+v, want %+v", got, want)
	}
}
