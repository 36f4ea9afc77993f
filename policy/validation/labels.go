package validation

import (
	"regexp"
	"strings"
)

// Kubernetes label syntax, which Istio applies to subset and endpoint labels: an optional DNS
// subdomain prefix and "/", then a name of alphanumerics, '-', '_' and '.' that starts and ends
// alphanumeric. Values follow the name syntax and may be empty.
const labelNamePattern = `(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`

var (
	labelKeyRe   = regexp.MustCompile(`^(?:(` + dnsLabelPattern + `(?:\.` + dnsLabelPattern + `)*)/)?(` + labelNamePattern + `)$`)
	labelValueRe = regexp.MustCompile(`^(?:` + labelNamePattern + `)?$`)
)

const (
	maxLabelPrefixLen = 253
	maxLabelNameLen   = 63
	// The CRDs cap selector values at 63 characters, as Kubernetes caps label values.
	maxSelectorValueLen = 63
	// The CRD caps a security/v1beta1-style selector's matchLabels at 4096 entries.
	maxSelectorLabels = 4096
)

// validateLabels reports label keys and values that are not valid Kubernetes labels, as Istio does
// for DestinationRule subset labels, route sourceLabels and endpoint labels.
func validateLabels(field string, labels map[string]string, r *report) {
	for _, k := range sortedKeys(labels) {
		validateLabelKey(keyPath(field, k), k, r)
		if v := labels[k]; !labelValueRe.MatchString(v) {
			r.errorf(keyPath(field, k), "invalid label value %q for key %q", v, k)
		}
	}
}

func validateLabelKey(field string, k string, r *report) {
	m := labelKeyRe.FindStringSubmatch(k)
	switch {
	case m == nil:
		r.errorf(field, "invalid label key %q", k)
	case len(m[1]) > maxLabelPrefixLen:
		r.errorf(field, "invalid label key %q (DNS prefix is too long)", k)
	case len(m[2]) > maxLabelNameLen:
		r.errorf(field, "invalid label key %q (name is too long)", k)
	}
}

// validateWorkloadSelector checks a workloadSelector's matchLabels: Istio refuses empty keys and
// wildcards (a selector matches exact labels only), and the CRD bounds sizes. Call it only when the
// selector is present: a present selector with no labels selects every workload in the namespace,
// which Istio accepts with a warning. field is the path of the selector itself ("spec.selector",
// "spec.workloadSelector"); findings name field+".matchLabels[key]".
func validateWorkloadSelector(field string, matchLabels map[string]string, r *report) {
	validateSelectorLabels(path(field, "matchLabels"), matchLabels, maxSelectorLabels, r)
}

// validateSelectorLabels is validateWorkloadSelector for a selector's label map at field, whose
// CRD allows at most maxLabels entries (ServiceEntry's older selector names the map "labels").
func validateSelectorLabels(field string, labels map[string]string, maxLabels int, r *report) {
	if len(labels) == 0 {
		r.warnf(field, "workload selector specified without labels: it selects every workload in the namespace")
	}
	if len(labels) > maxLabels {
		r.errorf(field, "too many labels: %d, at most %d allowed", len(labels), maxLabels)
	}
	for _, k := range sortedKeys(labels) {
		v := labels[k]
		f := keyPath(field, k)
		if k == "" {
			r.errorf(f, "empty key is not supported in selector: %q", k+"="+v)
		}
		if strings.Contains(k, "*") || strings.Contains(v, "*") {
			r.errorf(f, "wildcard is not supported in selector: %q", k+"="+v)
		}
		if len(v) > maxSelectorValueLen {
			r.errorf(f, "selector value for %q is longer than %d characters", k, maxSelectorValueLen)
		}
	}
}
