package validation

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Checks on the string lists of AuthorizationPolicy sources, operations and conditions. Each
// reports against the list element ("spec.rules[0].from[0].source.principals[1]").

// The CRD caps serviceAccounts lists and entries, so that a policy stays small enough to compile
// into every proxy.
const (
	maxServiceAccounts      = 16
	maxServiceAccountLength = 320
)

// validateAuthzNonEmpty: an empty string would match only an absent attribute, which is never
// what a list entry means; Istio refuses it in every list.
func validateAuthzNonEmpty(field string, values []string, r *report) {
	for i, v := range values {
		if v == "" {
			r.errorf(path(field, i), "empty value not allowed")
		}
	}
}

// validateIPBlocks accepts single addresses and CIDR ranges, IPv4 or IPv6.
func validateIPBlocks(field string, values []string, r *report) {
	for i, v := range values {
		if reason := ipBlockProblem(v); reason != "" {
			r.errorf(path(field, i), "%s", reason)
		}
	}
}

func ipBlockProblem(v string) string {
	if v == "" {
		return "" // reported as an empty value
	}
	if strings.Contains(v, "/") {
		if _, err := netip.ParsePrefix(v); err != nil {
			return fmt.Sprintf("bad CIDR range (%s): %v", v, err)
		}
		return ""
	}
	if _, err := netip.ParseAddr(v); err != nil {
		return fmt.Sprintf("bad IP address (%s)", v)
	}
	return ""
}

// validateAuthzPorts checks ports written as strings, as operations and conditions hold them.
// Like Istio, 0 passes: it is a valid (if useless) port to match.
func validateAuthzPorts(field string, values []string, r *report) {
	for i, v := range values {
		if v == "" {
			continue // reported as an empty value
		}
		if p, err := strconv.ParseUint(v, 10, 32); err != nil || p > 65535 {
			r.errorf(path(field, i), "bad port (%s): must be a number in 0..65535", v)
		}
	}
}

// validateServiceAccounts: entries are "name" (the policy's namespace) or "namespace/name",
// matched exactly against the peer's SPIFFE identity, so wildcards cannot work.
func validateServiceAccounts(field string, values []string, r *report) {
	if len(values) > maxServiceAccounts {
		r.errorf(field, "may not have more than %d values, got %d", maxServiceAccounts, len(values))
	}
	for i, v := range values {
		if reason := serviceAccountProblem(v); reason != "" {
			r.errorf(path(field, i), "%s", reason)
		}
	}
}

func serviceAccountProblem(v string) string {
	const format = "expected format 'serviceAccount' or 'namespace/serviceAccount'"
	switch {
	case v == "":
		return "empty value not allowed"
	case strings.Contains(v, "*"):
		return fmt.Sprintf("wildcard not allowed in service account %q", v)
	case strings.Count(v, "/") > 1:
		return fmt.Sprintf("%s, found %q", format, v)
	case len(v) > maxServiceAccountLength:
		return fmt.Sprintf("value cannot exceed %d characters, found %d", maxServiceAccountLength, len(v))
	}
	ns, sa, qualified := strings.Cut(v, "/")
	switch {
	case qualified && ns == "":
		return fmt.Sprintf("%s, found empty namespace in %q", format, v)
	case qualified && sa == "":
		return fmt.Sprintf("%s, found empty serviceAccount in %q", format, v)
	}
	return ""
}

// validateWildcardPlacement warns about values whose '*' the matcher will not treat as a
// wildcard. Istio's string matching knows "*" (any value), "*suffix" and "prefix*"; any other
// '*' is compared literally, so "cluster.local/ns/*/sa/web" matches only a principal with a real
// asterisk in it. Istio accepts such values, hence a warning.
func validateWildcardPlacement(field string, values []string, r *report) {
	for i, v := range values {
		if misplacedWildcard(v) {
			r.warnf(path(field, i), "%q: '*' is a wildcard only as the whole value, a prefix or a suffix; elsewhere it is matched literally", v)
		}
	}
}

func misplacedWildcard(v string) bool {
	if v == "*" {
		return false
	}
	rest, ok := strings.CutPrefix(v, "*")
	if !ok {
		rest, _ = strings.CutSuffix(v, "*")
	}
	return strings.Contains(rest, "*")
}

// validateAuthzMethods warns about methods no request can carry. Methods are compared exactly and
// case-sensitively, so "get" never matches a GET request. Istio accepts any string here.
func validateAuthzMethods(field string, methods []string, r *report) {
	for i, m := range methods {
		f := path(field, i)
		switch {
		case m == "":
			// reported as an empty value
		case !isMethodToken(m):
			r.warnf(f, "method %q is not a valid HTTP method token, so no request can match it", m)
		case strings.ToUpper(m) != m:
			r.warnf(f, "method %q never matches: methods are compared case-sensitively and HTTP methods are upper case (%q)", m, strings.ToUpper(m))
		}
	}
}

// isMethodToken reports whether s is an RFC 9110 token, the syntax of a method name.
func isMethodToken(s string) bool {
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return s != ""
}
