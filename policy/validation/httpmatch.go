package validation

import (
	networking "istio.io/api/networking/v1alpha3"
)

func validateHTTPMatch(field string, m *networking.HTTPMatchRequest, r *report) {
	for _, k := range sortedKeys(m.GetHeaders()) {
		f := keyPath(path(field, "headers"), k)
		validateMatchHeaderName(f, k, r)
		validateStringMatch(f, m.GetHeaders()[k], r)
	}
	for _, k := range sortedKeys(m.GetWithoutHeaders()) {
		f := keyPath(path(field, "withoutHeaders"), k)
		validateMatchHeaderName(f, k, r)
		// In withoutHeaders, regex "*" is not RE2: it means "the header is present".
		if sm := m.GetWithoutHeaders()[k]; sm.GetRegex() != "*" {
			validateStringMatch(f, sm, r)
		}
	}
	validateURIMatch(path(field, "uri"), m.GetUri(), r)
	validateStringMatch(path(field, "scheme"), m.GetScheme(), r)
	validateStringMatch(path(field, "method"), m.GetMethod(), r)
	validateStringMatch(path(field, "authority"), m.GetAuthority(), r)
	for _, k := range sortedKeys(m.GetQueryParams()) {
		validateStringMatch(keyPath(path(field, "queryParams"), k), m.GetQueryParams()[k], r)
	}
	if m.GetPort() != 0 {
		validatePortNumber(path(field, "port"), m.GetPort(), r)
	}
	validateLabels(path(field, "sourceLabels"), m.GetSourceLabels(), r)
	validateGatewayNames(path(field, "gateways"), m.GetGateways(), r)
	if ns := m.GetSourceNamespace(); ns != "" && !isDNS1123Label(ns) {
		r.errorf(path(field, "sourceNamespace"), "sourceNamespace match %q is invalid: must be a namespace name", ns)
	}
}
