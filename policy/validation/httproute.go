package validation

import (
	networking "istio.io/api/networking/v1alpha3"
)

// validateHTTPRoute checks one http[] entry. delegate says the route belongs to a delegate
// VirtualService (one without hosts).
func validateHTTPRoute(field string, h *networking.HTTPRoute, delegate bool, r *report) {
	validateHTTPRouteActions(field, h, delegate, r)
	for i, m := range h.GetMatch() {
		if m != nil {
			validateHTTPMatch(path(path(field, "match"), i), m, r)
		}
	}
	validateHeaderOperations(path(field, "headers"), h.GetHeaders(), r)
	validateAuthorityRewrite(field, h, r)
	validateCORSPolicy(path(field, "corsPolicy"), h.GetCorsPolicy(), r)
	validateFault(path(field, "fault"), h.GetFault(), r)
	validateMirrors(field, h, r)
	validateRedirect(path(field, "redirect"), h.GetRedirect(), r)
	validateDirectResponse(path(field, "directResponse"), h.GetDirectResponse(), r)
	validateRetries(path(field, "retries"), h.GetRetries(), r)
	validateRewrite(path(field, "rewrite"), h.GetRewrite(), r)
	validateRouteDestinations(path(field, "route"), h.GetRoute(), r, func(f string, d *networking.HTTPRouteDestination) {
		validateHeaderOperations(path(f, "headers"), d.GetHeaders(), r)
	})
	validateDuration(path(field, "timeout"), h.GetTimeout(), r)
}

// validateHTTPRouteActions: a route does exactly one thing with a request (forward it, redirect
// it, answer it directly, or hand it to a delegate), so the ways of doing so exclude each other.
func validateHTTPRouteActions(field string, h *networking.HTTPRoute, delegate bool, r *report) {
	if h.GetMirror() != nil && len(h.GetMirrors()) > 0 {
		r.errorf(path(field, "mirrors"), "HTTP route cannot contain both mirror and mirrors")
	}
	if !delegate && h.GetDelegate() != nil {
		// A root route's delegate does the routing; the rest is decided by the delegate.
		if h.GetRedirect() != nil {
			r.errorf(path(field, "redirect"), "root HTTP route %s must not specify redirect", h.GetName())
		}
		if len(h.GetRoute()) > 0 {
			r.errorf(path(field, "route"), "root HTTP route %s must not specify route", h.GetName())
		}
		return
	}
	if delegate && h.GetDelegate() != nil {
		r.errorf(path(field, "delegate"), "delegate HTTP route cannot contain delegate")
	}
	switch {
	case h.GetRedirect() != nil:
		if len(h.GetRoute()) > 0 {
			r.errorf(path(field, "route"), "HTTP route cannot contain both route and redirect")
		}
		if h.GetFault() != nil {
			r.errorf(path(field, "fault"), "HTTP route cannot contain both fault and redirect")
		}
		if h.GetRewrite() != nil {
			r.errorf(path(field, "rewrite"), "HTTP route rule cannot contain both rewrite and redirect")
		}
		if h.GetDirectResponse() != nil {
			r.errorf(path(field, "directResponse"), "HTTP route rule cannot contain both directResponse and redirect")
		}
	case h.GetDirectResponse() != nil:
		if len(h.GetRoute()) > 0 {
			r.errorf(path(field, "route"), "HTTP route cannot contain both route and directResponse")
		}
		if h.GetFault() != nil {
			r.errorf(path(field, "fault"), "HTTP route cannot contain both fault and directResponse")
		}
		if h.GetRewrite() != nil {
			r.errorf(path(field, "rewrite"), "HTTP route rule cannot contain both rewrite and directResponse")
		}
	case len(h.GetRoute()) == 0:
		r.errorf(field, "HTTP route, redirect or directResponse is required")
	}
}

// validateAuthorityRewrite: the authority can be rewritten in one place only, either
// rewrite.authority or a request header operation on :authority/Host.
func validateAuthorityRewrite(field string, h *networking.HTTPRoute, r *report) {
	current := h.GetRewrite().GetAuthority()
	req := h.GetHeaders().GetRequest()
	for _, op := range []struct {
		name string
		m    map[string]string
	}{{"set", req.GetSet()}, {"add", req.GetAdd()}} {
		for _, k := range sortedKeys(op.m) {
			if !isAuthorityHeader(k) {
				continue
			}
			if current != "" {
				r.errorf(keyPath(path(path(path(field, "headers"), "request"), op.name), k),
					"authority header cannot be set multiple times: have %q, attempting to set %q", current, op.m[k])
				return
			}
			current = op.m[k]
		}
	}
}
