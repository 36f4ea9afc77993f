package validation

import (
	security "istio.io/api/security/v1beta1"
)

// validateRuleTo checks one `to` entry. It reports whether the entry has an operation and whether
// that operation can match plain TCP connections (only ports can).
func validateRuleTo(field string, to *security.Rule_To, r *report) (present, tcp bool) {
	if to == nil {
		r.errorf(field, "a `to` entry must not be null")
		return false, false
	}
	op := to.GetOperation()
	field = path(field, "operation")
	if op == nil {
		r.errorf(field, "`to.operation` must be set")
		return false, false
	}

	lists := []struct {
		name   string
		values []string
	}{
		{"hosts", op.GetHosts()},
		{"notHosts", op.GetNotHosts()},
		{"ports", op.GetPorts()},
		{"notPorts", op.GetNotPorts()},
		{"methods", op.GetMethods()},
		{"notMethods", op.GetNotMethods()},
		{"paths", op.GetPaths()},
		{"notPaths", op.GetNotPaths()},
	}
	empty := true
	for _, l := range lists {
		if len(l.values) == 0 {
			continue
		}
		empty = false
		f := path(field, l.name)
		validateAuthzNonEmpty(f, l.values, r)
		switch l.name {
		case "ports", "notPorts":
			tcp = true
			validateAuthzPorts(f, l.values, r)
		case "methods", "notMethods":
			validateWildcardPlacement(f, l.values, r)
			validateAuthzMethods(f, l.values, r)
		case "paths", "notPaths":
			validateAuthzPaths(f, l.values, r)
		default:
			validateWildcardPlacement(f, l.values, r)
		}
	}
	if empty {
		r.errorf(field, "`to.operation` must not be empty: set at least one field")
	}
	return true, tcp
}
