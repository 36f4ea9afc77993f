package validation

import (
	"fmt"
	"regexp"
	"strings"
)

// Path template operators in AuthorizationPolicy operation paths, as Envoy's URI template matcher
// reads them: {*} is exactly one path segment, {**} is zero or more segments.
const (
	matchOneSegment  = "{*}"
	matchAnySegments = "{**}"
)

// A literal segment of a templated path must be RFC 3986 pchars, since Envoy compiles the whole
// path into a URI template and refuses anything else.
var templateLiteralRe = regexp.MustCompile(`^[a-zA-Z0-9\-._~%!$&'()+,;:@=]+$`)

func isPathTemplate(p string) bool {
	return strings.Contains(p, matchOneSegment) || strings.Contains(p, matchAnySegments)
}

// pathTemplateProblem returns why Istio would refuse p as an operation path, or "". Braces are
// checked in every path, templated or not, because a stray "{" signals a template Envoy would
// not understand; segment syntax is checked only in templated paths.
func pathTemplateProblem(p string) string {
	templated := isPathTemplate(p)
	seenAny := false
	for _, seg := range strings.Split(strings.Trim(p, "/"), "/") {
		switch {
		case (seg == matchOneSegment || seg == matchAnySegments) && seenAny:
			return fmt.Sprintf("invalid or unsupported path template %q: {**} is not the last operator", p)
		case seg == matchAnySegments:
			seenAny = true
			continue
		case seg == matchOneSegment:
			continue
		case strings.ContainsAny(seg, "{}"):
			return fmt.Sprintf("invalid or unsupported path template %q: contains '{' or '}' beyond a supported path template ({*} or {**} as a whole segment)", p)
		case templated && !templateLiteralRe.MatchString(seg):
			return fmt.Sprintf("invalid or unsupported path template %q: segment %q is not a valid string literal (no '*' or empty segments outside {*} and {**})", p, seg)
		}
	}
	return ""
}

// validateAuthzPaths checks operation paths and notPaths: template syntax (an error, as in Istio) and,
// for plain paths, where '*' may stand (a warning).
func validateAuthzPaths(field string, paths []string, r *report) {
	for i, p := range paths {
		if p == "" {
			continue // reported as an empty value
		}
		f := path(field, i)
		if reason := pathTemplateProblem(p); reason != "" {
			r.errorf(f, "%s", reason)
			continue
		}
		if !isPathTemplate(p) && misplacedWildcard(p) {
			r.warnf(f, "%q: '*' is a wildcard only as the whole path, a prefix or a suffix (use {*} or {**} for segments); elsewhere it is matched literally", p)
		}
	}
}
