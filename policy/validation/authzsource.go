package validation

import (
	security "istio.io/api/security/v1beta1"
)

// validateRuleFrom checks one `from` entry. It reports whether the entry has a source and whether
// that source can match plain TCP connections (anything but request principals, which need an
// HTTP request with a JWT).
func validateRuleFrom(field string, from *security.Rule_From, action security.AuthorizationPolicy_Action, r *report) (present, tcp bool) {
	if from == nil {
		r.errorf(field, "a `from` entry must not be null")
		return false, false
	}
	src := from.GetSource()
	field = path(field, "source")
	if src == nil {
		r.errorf(field, "`from.source` must be set")
		return false, false
	}

	lists := []struct {
		name   string
		values []string
	}{
		{"principals", src.GetPrincipals()},
		{"notPrincipals", src.GetNotPrincipals()},
		{"requestPrincipals", src.GetRequestPrincipals()},
		{"notRequestPrincipals", src.GetNotRequestPrincipals()},
		{"namespaces", src.GetNamespaces()},
		{"notNamespaces", src.GetNotNamespaces()},
		{"serviceAccounts", src.GetServiceAccounts()},
		{"notServiceAccounts", src.GetNotServiceAccounts()},
		{"ipBlocks", src.GetIpBlocks()},
		{"notIpBlocks", src.GetNotIpBlocks()},
		{"remoteIpBlocks", src.GetRemoteIpBlocks()},
		{"notRemoteIpBlocks", src.GetNotRemoteIpBlocks()},
		{"trustDomains", src.GetTrustDomains()},
		{"notTrustDomains", src.GetNotTrustDomains()},
	}
	empty := true
	for _, l := range lists {
		if len(l.values) == 0 {
			continue
		}
		empty = false
		if l.name != "requestPrincipals" && l.name != "notRequestPrincipals" {
			tcp = true
		}
		f := path(field, l.name)
		switch l.name {
		case "serviceAccounts", "notServiceAccounts":
			validateServiceAccounts(f, l.values, r)
		case "ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks":
			validateAuthzNonEmpty(f, l.values, r)
			validateIPBlocks(f, l.values, r)
		default:
			validateAuthzNonEmpty(f, l.values, r)
			validateWildcardPlacement(f, l.values, r)
		}
		if action == security.AuthorizationPolicy_CUSTOM && customUnsupportedSource(l.name) {
			r.errorf(f, "from.source.%s is not supported with CUSTOM action", l.name)
		}
	}
	if empty {
		r.errorf(field, "`from.source` must not be empty: set at least one field")
	}

	// serviceAccounts is shorthand for a principal in the mesh's trust domain; mixing it with the
	// fields it abbreviates would make the intended identity ambiguous.
	identity := len(src.GetPrincipals()) + len(src.GetNotPrincipals()) + len(src.GetNamespaces()) + len(src.GetNotNamespaces())
	if identity > 0 && len(src.GetServiceAccounts())+len(src.GetNotServiceAccounts()) > 0 {
		r.errorf(field, "serviceAccounts cannot be set together with namespaces or principals")
	}
	return true, tcp
}

// customUnsupportedSource lists the identity fields Istio refuses in CUSTOM rules.
func customUnsupportedSource(name string) bool {
	switch name {
	case "principals", "notPrincipals", "requestPrincipals", "notRequestPrincipals",
		"namespaces", "notNamespaces", "serviceAccounts", "notServiceAccounts":
		return true
	}
	return false
}
