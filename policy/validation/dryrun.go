package validation

import (
	"strconv"

	security "istio.io/api/security/v1beta1"
)

// dryRunAnnotation asks the proxy to evaluate an AuthorizationPolicy and log the result without
// enforcing it. Istio refuses it anywhere else, so that nobody believes another kind is dry-run.
const dryRunAnnotation = "istio.io/dry-run"

func dryRunField() string { return keyPath("metadata.annotations", dryRunAnnotation) }

// validateNoDryRun is for the security kinds other than AuthorizationPolicy.
func validateNoDryRun(meta Meta, r *report) {
	if _, ok := meta.Annotations[dryRunAnnotation]; ok {
		r.errorf(dryRunField(), "unsupported annotation %s: only AuthorizationPolicy supports dry-run, remove the annotation", dryRunAnnotation)
	}
}

// validateDryRun: dry-run exists only for ALLOW and DENY, whose decisions can be logged as "would
// have allowed/denied"; its value is a boolean.
func validateDryRun(meta Meta, action security.AuthorizationPolicy_Action, r *report) {
	v, ok := meta.Annotations[dryRunAnnotation]
	if !ok {
		return
	}
	switch action {
	case security.AuthorizationPolicy_ALLOW, security.AuthorizationPolicy_DENY:
		if _, err := strconv.ParseBool(v); err != nil {
			r.errorf(dryRunField(), "annotation %s has invalid value %q: want true or false", dryRunAnnotation, v)
		}
	default:
		r.errorf(dryRunField(), "annotation %s only supports action ALLOW or DENY, found action %s", dryRunAnnotation, action)
	}
}
