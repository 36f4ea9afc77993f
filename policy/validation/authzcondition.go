package validation

import (
	"fmt"
	"strings"

	security "istio.io/api/security/v1beta1"
)

// conditionValues is how a `when` key's values are checked.
type conditionValues int

const (
	conditionPlain conditionValues = iota
	conditionIPs
	conditionPorts
	conditionServiceAccounts
)

// conditionKey classifies a `when` key as Istio does, in Istio's order (prefix keys first, so
// "request.headers" without a [name] is a malformed header key rather than an unknown one). It
// returns the value check, or why the key is refused.
func conditionKey(key string) (conditionValues, string) {
	switch {
	case strings.HasPrefix(key, "request.headers"),
		strings.HasPrefix(key, "request.experimental.inline.headers"),
		strings.HasPrefix(key, "request.auth.claims"),
		strings.HasPrefix(key, "experimental.envoy.filters."):
		return conditionPlain, mapKeyProblem(key)
	}
	switch key {
	case "source.ip", "remote.ip", "destination.ip":
		return conditionIPs, ""
	case "destination.port":
		return conditionPorts, ""
	case "source.serviceAccount":
		return conditionServiceAccounts, ""
	case "source.namespace", "source.principal", "source.trustDomain",
		"request.auth.principal", "request.auth.audiences", "request.auth.presenter",
		"connection.sni":
		return conditionPlain, ""
	case "destination.namespace":
		return conditionPlain, fmt.Sprintf("attribute %s is not supported: the policy's metadata.namespace replaces it", key)
	case "destination.name", "destination.user":
		return conditionPlain, fmt.Sprintf("deprecated attribute %s is not supported (it existed only in v1alpha1)", key)
	}
	if strings.HasPrefix(key, "destination.labels") {
		return conditionPlain, fmt.Sprintf("attribute %s is not supported: the policy's workload selector replaces it", key)
	}
	return conditionPlain, fmt.Sprintf("unknown attribute: %s", key)
}

// mapKeyProblem checks "name[entry]" keys: a non-empty entry between brackets that end the key.
func mapKeyProblem(key string) string {
	open := strings.Index(key, "[")
	if strings.HasSuffix(key, "]") && open > 0 && open < len(key)-2 {
		return ""
	}
	return fmt.Sprintf("bad key (%s): want the form name[entry]", key)
}

// customUnsupportedKey: Istio cannot select CUSTOM (ext_authz) requests by peer or request
// identity, so it refuses these keys there rather than silently ignoring them.
func customUnsupportedKey(key string) bool {
	switch key {
	case "source.namespace", "source.serviceAccount", "source.principal":
		return true
	}
	return strings.HasPrefix(key, "request.auth.")
}

func validateAuthzCondition(field string, c *security.Condition, action security.AuthorizationPolicy_Action, r *report) {
	if c == nil {
		r.errorf(field, "when condition must not be null")
		return
	}
	key := c.GetKey()
	if key == "" {
		r.errorf(path(field, "key"), "`key` is required")
		return
	}
	if len(c.GetValues()) == 0 && len(c.GetNotValues()) == 0 {
		r.errorf(field, "key %s needs at least one of `values` or `notValues`", key)
	}
	if action == security.AuthorizationPolicy_CUSTOM && customUnsupportedKey(key) {
		r.errorf(path(field, "key"), "%s is not supported with CUSTOM action", key)
	}
	kind, reason := conditionKey(key)
	if reason != "" {
		r.errorf(path(field, "key"), "%s", reason)
		return
	}
	validateAuthzConditionValues(path(field, "values"), kind, c.GetValues(), r)
	validateAuthzConditionValues(path(field, "notValues"), kind, c.GetNotValues(), r)
}

func validateAuthzConditionValues(field string, kind conditionValues, values []string, r *report) {
	switch kind {
	case conditionIPs:
		validateAuthzNonEmpty(field, values, r)
		validateIPBlocks(field, values, r)
	case conditionPorts:
		validateAuthzNonEmpty(field, values, r)
		validateAuthzPorts(field, values, r)
	case conditionServiceAccounts:
		validateServiceAccounts(field, values, r)
	default:
		validateAuthzNonEmpty(field, values, r)
		validateWildcardPlacement(field, values, r)
	}
}
