package validation

import (
	"regexp"

	networking "istio.io/api/networking/v1alpha3"
)

// Envoy caps RE2 program size; program size always exceeds pattern length, so Istio bounds the
// length and Envoy is configured to accept any program that passes this bound.
const maxRegexLen = 1024

// validateStringMatch checks one StringMatch: an empty prefix or regex matches nothing useful and
// Envoy rejects it, and a regex must compile as RE2 (Go's regexp is RE2). An empty exact is legal
// (it matches an empty value).
func validateStringMatch(field string, sm *networking.StringMatch, r *report) {
	switch m := sm.GetMatchType().(type) {
	case *networking.StringMatch_Prefix:
		if m.Prefix == "" {
			r.errorf(path(field, "prefix"), "prefix string match should not be empty")
		}
	case *networking.StringMatch_Regex:
		validateMatchRegex(path(field, "regex"), m.Regex, r)
	}
}

// validateURIMatch is validateStringMatch for a route's uri, where Envoy accepts an empty prefix
// as "any path".
func validateURIMatch(field string, sm *networking.StringMatch, r *report) {
	if m, ok := sm.GetMatchType().(*networking.StringMatch_Regex); ok {
		validateMatchRegex(path(field, "regex"), m.Regex, r)
	}
}

func validateMatchRegex(field string, re string, r *report) {
	if re == "" {
		r.errorf(field, "regex string match should not be empty")
		return
	}
	validateRegex(field, re, r)
}

// validateRegex checks a non-empty RE2 pattern.
func validateRegex(field string, re string, r *report) {
	if len(re) > maxRegexLen {
		r.errorf(field, "regex is too large, max length allowed is %d", maxRegexLen)
		return
	}
	if _, err := regexp.Compile(re); err != nil {
		r.errorf(field, "%v; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)", err)
	}
}
