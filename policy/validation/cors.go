package validation

import (
	networking "istio.io/api/networking/v1alpha3"
)

// corsMethods: what allowMethods may list; "*" allows any.
var corsMethods = setOf(
	"GET",
	"HEAD",
	"POST",
	"PUT",
	"PATCH",
	"DELETE",
	"CONNECT",
	"OPTIONS",
	"TRACE",
	"*",
)

func validateCORSPolicy(field string, c *networking.CorsPolicy, r *report) {
	if c == nil {
		return
	}
	for i, o := range c.GetAllowOrigins() {
		f := path(path(field, "allowOrigins"), i)
		if o.GetExact() == "" && o.GetPrefix() == "" && o.GetRegex() == "" {
			r.errorf(f, "an empty match is not a valid match type for CORS allow origins")
			continue
		}
		if re, ok := o.GetMatchType().(*networking.StringMatch_Regex); ok {
			validateRegex(path(f, "regex"), re.Regex, r)
		}
	}
	for i, m := range c.GetAllowMethods() {
		if !corsMethods[m] {
			r.errorf(path(path(field, "allowMethods"), i), "%q is not a supported HTTP method", m)
		}
	}
	for i, h := range c.GetAllowHeaders() {
		validateCORSHeaderName(path(path(field, "allowHeaders"), i), h, r)
	}
	for i, h := range c.GetExposeHeaders() {
		validateCORSHeaderName(path(path(field, "exposeHeaders"), i), h, r)
	}
	if age := c.GetMaxAge(); age != nil {
		validateDuration(path(field, "maxAge"), age, r)
		// Access-Control-Max-Age is in whole seconds.
		if age.GetNanos() > 0 {
			r.errorf(path(field, "maxAge"), "maxAge duration is accurate only to seconds precision")
		}
	}
}
