package validation

import (
	"regexp"
	"strings"

	networking "istio.io/api/networking/v1alpha3"
)

var (
	// Header names Istio accepts in matches and CORS lists: token characters Envoy can match on.
	headerNameRe = regexp.MustCompile(`^[-_A-Za-z0-9]+$`)
	// Header values may hold anything but control characters other than horizontal tab.
	headerValueRe = regexp.MustCompile("^[^\u0000-\u0008\u000A-\u001F\u007F]*$")
)

// JWT claim routing ("@request.auth.claims.groups", "@request.auth.claims[groups]") uses header
// match syntax but matches a claim of the request's validated JWT.
const jwtClaimPrefix = "@request.auth.claims"

func isJWTClaimRoute(name string) bool {
	rest, ok := strings.CutPrefix(name, jwtClaimPrefix)
	if !ok {
		return false
	}
	if dotted, ok := strings.CutPrefix(rest, "."); ok {
		return dotted != "" && !strings.Contains(dotted, "..") && !strings.HasSuffix(dotted, ".")
	}
	if strings.HasPrefix(rest, "[") && strings.HasSuffix(rest, "]") {
		inner := rest[1 : len(rest)-1]
		return validClaimPath(strings.Split(inner, "]["))
	}
	return false
}

func validClaimPath(keys []string) bool {
	for _, k := range keys {
		if k == "" || strings.ContainsAny(k, "[]") {
			return false
		}
	}
	return true
}

func validateHeaderName(field string, name string, r *report) {
	if name == "" {
		r.errorf(field, "header name cannot be empty")
		return
	}
	if !headerNameRe.MatchString(name) {
		r.errorf(field, "header name %q is not a valid header name", name)
	}
}

// validateMatchHeaderName is validateHeaderName that also accepts JWT claim routing keys.
func validateMatchHeaderName(field string, name string, r *report) {
	if isJWTClaimRoute(name) {
		return
	}
	validateHeaderName(field, name, r)
}

// validateCORSHeaderName is validateHeaderName that also accepts "*", which browsers read as "any".
func validateCORSHeaderName(field string, name string, r *report) {
	if name == "*" {
		return
	}
	validateHeaderName(field, name, r)
}

func isAuthorityHeader(name string) bool {
	return strings.EqualFold(name, ":authority") || strings.EqualFold(name, "host")
}

// isPseudoOrHostHeader: headers Envoy owns and will not let a route rewrite directly.
func isPseudoOrHostHeader(name string) bool {
	return strings.HasPrefix(name, ":") || strings.EqualFold(name, "host")
}

// validateRequestSetHeaderName checks a request header being set or added; the authority may be
// set this way (the only pseudo-header Envoy lets a route rewrite).
func validateRequestSetHeaderName(field string, name string, r *report) {
	if name == "" {
		r.errorf(field, "header name cannot be empty")
		return
	}
	if isPseudoOrHostHeader(name) && !isAuthorityHeader(name) {
		r.errorf(field, "invalid header %q: header cannot have \":\" prefix", name)
	}
}

// validateFixedHeaderName checks a request header being removed, or a response header being set,
// added or removed: neither Host nor pseudo-headers may be touched.
func validateFixedHeaderName(field string, name string, r *report) {
	switch {
	case name == "":
		r.errorf(field, "header name cannot be empty")
	case strings.EqualFold(name, "host"):
		r.errorf(field, "invalid header %q: cannot set Host header", name)
	case strings.HasPrefix(name, ":"):
		r.errorf(field, "invalid header %q: header cannot have \":\" prefix", name)
	}
}

// validateHeaderOperations checks a route's or destination's headers.request/response set, add
// and remove.
func validateHeaderOperations(field string, h *networking.Headers, r *report) {
	if h == nil {
		return
	}
	req, resp := path(field, "request"), path(field, "response")
	for _, k := range sortedKeys(h.GetRequest().GetSet()) {
		validateRequestSetHeaderName(keyPath(path(req, "set"), k), k, r)
		validateHeaderValue(keyPath(path(req, "set"), k), h.GetRequest().GetSet()[k], r)
	}
	for _, k := range sortedKeys(h.GetRequest().GetAdd()) {
		validateRequestSetHeaderName(keyPath(path(req, "add"), k), k, r)
		validateHeaderValue(keyPath(path(req, "add"), k), h.GetRequest().GetAdd()[k], r)
	}
	for i, k := range h.GetRequest().GetRemove() {
		validateFixedHeaderName(path(path(req, "remove"), i), k, r)
	}
	for _, k := range sortedKeys(h.GetResponse().GetSet()) {
		validateFixedHeaderName(keyPath(path(resp, "set"), k), k, r)
		validateHeaderValue(keyPath(path(resp, "set"), k), h.GetResponse().GetSet()[k], r)
	}
	for _, k := range sortedKeys(h.GetResponse().GetAdd()) {
		validateFixedHeaderName(keyPath(path(resp, "add"), k), k, r)
		validateHeaderValue(keyPath(path(resp, "add"), k), h.GetResponse().GetAdd()[k], r)
	}
	for i, k := range h.GetResponse().GetRemove() {
		validateFixedHeaderName(path(path(resp, "remove"), i), k, r)
	}
}

// validateHeaderValue checks a header value Envoy will render: no control characters, and every
// unescaped '%' must open a well-formed %VARIABLE% or %VARIABLE(args)% expression ("100%%" is a
// literal percent sign). Which variables exist is Envoy's business; only the syntax is checked, so
// that a typo is refused here rather than NACKed by the proxy.
func validateHeaderValue(field string, v string, r *report) {
	if !headerValueRe.MatchString(v) {
		r.errorf(field, "header value %q is invalid: it contains control characters", v)
		return
	}
	if reason := headerFormatProblem(v); reason != "" {
		r.errorf(field, "header value %q is invalid: %s", v, reason)
	}
}

func headerFormatProblem(v string) string {
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			continue
		}
		if i+1 == len(v) {
			return "un-escaped %"
		}
		if v[i+1] == '%' {
			i++
			continue
		}
		end, reason := scanHeaderVariable(v, i+1)
		if reason != "" {
			return reason
		}
		i = end
	}
	return ""
}

// scanHeaderVariable reads a variable starting just after its opening '%' and returns the index
// of its closing '%'.
func scanHeaderVariable(v string, i int) (int, string) {
	for ; i < len(v); i++ {
		switch v[i] {
		case '%':
			return i, ""
		case '(':
			return scanHeaderVariableArgs(v, i+1)
		}
	}
	return 0, "un-terminated variable expression"
}

// scanHeaderVariableArgs reads "(args)%" from just after '('. Args are either a JSON-style array
// of strings or bare text up to ')'.
func scanHeaderVariableArgs(v string, i int) (int, string) {
	i = skipSpaces(v, i)
	if i < len(v) && v[i] == '[' {
		var reason string
		if i, reason = scanHeaderArgArray(v, i+1); reason != "" {
			return 0, reason
		}
		i = skipSpaces(v, i)
		if i >= len(v) || v[i] != ')' {
			return 0, "expecting ')' after the argument list"
		}
	} else {
		for i < len(v) && v[i] != ')' {
			i++
		}
		if i >= len(v) {
			return 0, "un-terminated variable expression"
		}
	}
	i = skipSpaces(v, i+1)
	if i >= len(v) || v[i] != '%' {
		return 0, "expecting '%' to close the variable expression"
	}
	return i, ""
}

// scanHeaderArgArray reads `"a", "b"]` from just after '[' and returns the index after ']'.
func scanHeaderArgArray(v string, i int) (int, string) {
	for {
		i = skipSpaces(v, i)
		if i >= len(v) || v[i] != '"' {
			return 0, `expecting '"' to open an argument`
		}
		for i++; i < len(v) && v[i] != '"'; i++ {
			if v[i] == '\\' {
				i++
			}
		}
		if i >= len(v) {
			return 0, "un-terminated argument string"
		}
		i = skipSpaces(v, i+1)
		if i >= len(v) {
			return 0, "un-terminated argument list"
		}
		switch v[i] {
		case ']':
			return i + 1, ""
		case ',':
			i++
		default:
			return 0, "expecting ',' or ']' in the argument list"
		}
	}
}

func skipSpaces(v string, i int) int {
	for i < len(v) && v[i] == ' ' {
		i++
	}
	return i
}
