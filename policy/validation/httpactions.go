package validation

import (
	"net/http"
	"strconv"
	"strings"

	networking "istio.io/api/networking/v1alpha3"
)

const (
	kib = 1024
	mib = 1024 * kib
	// Direct response bodies travel in every route push; above these sizes they slow the
	// control plane (warning) or are refused.
	directResponseWarnSize = 100 * kib
	directResponseMaxSize  = 1 * mib
)

// retryOnPolicies: the x-envoy-retry-on and x-envoy-retry-grpc-on conditions Envoy knows.
var retryOnPolicies = setOf(
	"5xx",
	"gateway-error",
	"reset",
	"reset-before-request",
	"connect-failure",
	"retriable-4xx",
	"refused-stream",
	"retriable-status-codes",
	"retriable-headers",
	"envoy-ratelimited",
	"http3-post-connect-failure",
	"cancelled",
	"deadline-exceeded",
	"internal",
	"resource-exhausted",
	"unavailable",
)

// validateRedirect checks http[].redirect. A redirect must change something about the location;
// prefixRewrite counts, as it changes the path.
func validateRedirect(field string, rd *networking.HTTPRedirect, r *report) {
	if rd == nil {
		return
	}
	if rd.GetUri() == "" && rd.GetAuthority() == "" && rd.GetRedirectPort() == nil && rd.GetScheme() == "" && rd.GetPrefixRewrite() == "" {
		r.errorf(field, "redirect must specify URI, authority, scheme, or port")
	}
	if c := rd.GetRedirectCode(); c != 0 && (c < 300 || c > 399) {
		r.errorf(path(field, "redirectCode"), "%d is not a valid redirect code, must be 3xx", c)
	}
	if s := rd.GetScheme(); s != "" && s != "http" && s != "https" {
		r.errorf(path(field, "scheme"), `invalid redirect scheme %q, must be "http" or "https"`, s)
	}
	if p := rd.GetPort(); p > 0 {
		validatePortNumber(path(field, "port"), p, r)
	}
}

func validateDirectResponse(field string, dr *networking.HTTPDirectResponse, r *report) {
	if dr == nil {
		return
	}
	if b := dr.GetBody(); b != nil {
		size := len(b.GetString_()) + len(b.GetBytes())
		switch {
		case size > directResponseMaxSize:
			r.errorf(path(field, "body"), "large directResponse bodies may impact control plane performance, must be less than 1MB")
		case size > directResponseWarnSize:
			r.warnf(path(field, "body"), "large directResponse bodies may impact control plane performance")
		}
	}
	validateHTTPStatus(path(field, "status"), int64(dr.GetStatus()), r)
}

// validateHTTPStatus accepts the status codes Envoy will send: 200 to 600.
func validateHTTPStatus(field string, status int64, r *report) {
	if status < 200 || status > 600 {
		r.errorf(field, "HTTP status %d is not in range 200-599", status)
	}
}

func validateRetries(field string, rt *networking.HTTPRetry, r *report) {
	if rt == nil {
		return
	}
	if rt.GetAttempts() < 0 {
		r.errorf(path(field, "attempts"), "attempts cannot be negative")
	}
	if rt.GetAttempts() == 0 && (rt.GetPerTryTimeout() != nil || rt.GetRetryOn() != "" || rt.GetRetryRemoteLocalities() != nil) {
		r.errorf(field, "http retry policy configured when attempts are set to 0 (disabled)")
	}
	validateDuration(path(field, "perTryTimeout"), rt.GetPerTryTimeout(), r)
	validateDuration(path(field, "backoff"), rt.GetBackoff(), r)
	if rt.GetRetryOn() == "" {
		return
	}
	// Envoy does not trim the list, so " 5xx" is a different (unknown) policy.
	for _, p := range strings.Split(rt.GetRetryOn(), ",") {
		code, _ := strconv.Atoi(p)
		if http.StatusText(code) == "" && !retryOnPolicies[p] {
			r.errorf(path(field, "retryOn"), "%q is not a valid retryOn policy", p)
		}
	}
}

func validateRewrite(field string, rw *networking.HTTPRewrite, r *report) {
	if rw == nil {
		return
	}
	re := rw.GetUriRegexRewrite()
	if rw.GetUri() != "" && re != nil {
		r.errorf(field, "rewrite may only contain one of uri or uriRegexRewrite")
	}
	if rw.GetUri() == "" && re == nil && rw.GetAuthority() == "" {
		r.errorf(field, "rewrite must specify at least one of uri, uriRegexRewrite, or authority")
	}
	if re == nil {
		return
	}
	f := path(field, "uriRegexRewrite")
	if re.GetMatch() == "" || re.GetRewrite() == "" {
		r.errorf(f, "uriRegexRewrite requires both rewrite and match fields to be specified")
		return
	}
	validateRegex(path(f, "match"), re.GetMatch(), r)
}
