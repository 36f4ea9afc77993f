package gateway

import (
	"fmt"
	"strconv"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/gatehouse-dev/gatehouse/policy"
)

type routeKey struct {
	vs      string
	gateway string
	port    uint32
}

// virtualServiceRoutes compiles a VirtualService's http routes for one Gateway and server port,
// as Istio's BuildHTTPRoutesForVirtualService does: one Route per match block, blocks for other
// gateways or ports dropped, and nothing after the first catch-all (it could never match).
func (c *compiler) virtualServiceRoutes(vs *policy.Resource, gateway string, port uint32) []*Route {
	key := routeKey{vs: vs.Key(), gateway: gateway, port: port}
	if rs, ok := c.routes[key]; ok {
		return rs
	}
	spec := vs.Spec.(*networking.VirtualService)
	var out []*Route
	for i, h := range spec.GetHttp() {
		field := fmt.Sprintf("spec.http[%d]", i)
		catchAll := false
		if len(h.GetMatch()) == 0 {
			if r := c.route(vs, field, "", i, h, nil, port); r != nil {
				out = append(out, r)
			}
			catchAll = true
		}
		for j, m := range h.GetMatch() {
			if m.GetPort() != 0 && m.GetPort() != port {
				continue
			}
			if !c.sourceMatches(vs.Namespace, m, gateway) {
				continue
			}
			r := c.route(vs, field, fmt.Sprintf("%s.match[%d]", field, j), i, h, m, port)
			if r == nil {
				continue
			}
			out = append(out, r)
			if r.Match.catchAll() {
				catchAll = true
				break
			}
		}
		if catchAll {
			break
		}
	}
	c.routes[key] = out
	return out
}

// sourceMatches applies a match block's gateways (or, without them, sourceLabels and
// sourceNamespace against this gateway workload).
func (c *compiler) sourceMatches(vsNamespace string, m *networking.HTTPMatchRequest, gateway string) bool {
	if len(m.GetGateways()) > 0 {
		for _, ref := range m.GetGateways() {
			if ns, name, ok := policy.GatewayRef(vsNamespace, ref); ok && ns+"/"+name == gateway {
				return true
			}
		}
		return false
	}
	if !policy.SelectorMatches(m.GetSourceLabels(), c.opts.Labels) {
		return false
	}
	return m.GetSourceNamespace() == "" || m.GetSourceNamespace() == c.opts.Namespace
}

// route compiles one HTTPRoute for one of its match blocks (nil: the route has none). It
// returns nil for a route the gateway cannot serve, after reporting why.
func (c *compiler) route(vs *policy.Resource, field, matchField string, index int, h *networking.HTTPRoute, m *networking.HTTPMatchRequest, port uint32) *Route {
	name := h.GetName()
	if name == "" {
		name = strconv.Itoa(index)
	}
	if h.GetDelegate() != nil {
		c.problems.warn(vs, field+".delegate", "delegate VirtualServices are not served yet: route skipped")
		return nil
	}
	match, ok := c.compileMatch(vs, matchField, m)
	if !ok {
		return nil
	}
	r := &Route{Name: vs.Namespace + "/" + vs.Name + "/" + name, Match: match}
	headers, authority := compileHeaderOps(h.GetHeaders())
	r.Headers = headers
	r.CORS = c.compileCORS(vs, field+".corsPolicy", h.GetCorsPolicy())
	switch {
	case h.GetRedirect() != nil:
		r.Redirect = c.compileRedirect(vs, field+".redirect", h.GetRedirect(), port)
		return r
	case h.GetDirectResponse() != nil:
		r.DirectResponse = compileDirectResponse(h.GetDirectResponse())
		return r
	}
	c.destinations(vs, field, h, r, port)
	rw, ok := c.compileRewrite(vs, field+".rewrite", h.GetRewrite(), authority)
	if !ok {
		return nil
	}
	r.Rewrite = rw
	r.Timeout = Duration(h.GetTimeout().AsDuration())
	r.Retries = c.compileRetries(vs, field+".retries", h.GetRetries())
	r.Fault = c.compileFault(vs, field+".fault", h.GetFault())
	r.Mirrors = c.compileMirrors(vs, field, h, port)
	return r
}

func compileDirectResponse(d *networking.HTTPDirectResponse) *DirectResponse {
	out := &DirectResponse{Status: int(d.GetStatus())}
	switch b := d.GetBody().GetSpecifier().(type) {
	case *networking.HTTPBody_String_:
		out.Body = b.String_
	case *networking.HTTPBody_Bytes:
		out.Body = string(b.Bytes)
	}
	return out
}

// compileRedirect follows Istio's ApplyRedirect: derivePort FROM_REQUEST_PORT is the server
// port, and an explicit default port of the scheme is left out of the Location.
func (c *compiler) compileRedirect(vs *policy.Resource, field string, rd *networking.HTTPRedirect, port uint32) *Redirect {
	out := &Redirect{URI: rd.GetUri(), Authority: rd.GetAuthority(), Scheme: rd.GetScheme()}
	switch p := rd.GetRedirectPort().(type) {
	case *networking.HTTPRedirect_DerivePort:
		if p.DerivePort == networking.HTTPRedirect_FROM_REQUEST_PORT {
			out.Port = port
		} else {
			out.StripPort = true
		}
	case *networking.HTTPRedirect_Port:
		out.Port = p.Port
	}
	if rd.GetRedirectPort() != nil {
		scheme := out.Scheme
		if scheme == "" {
			scheme = "http"
		}
		if (out.Port == 80 && scheme == "http") || (out.Port == 443 && scheme == "https") {
			out.Port, out.StripPort = 0, true
		}
	}
	switch code := rd.GetRedirectCode(); code {
	case 0:
		out.Code = 301
	case 301, 302, 303, 307, 308:
		out.Code = int(code)
	default:
		c.problems.warn(vs, field+".redirectCode", "redirect code %d is not supported by Envoy: 301 is used", code)
		out.Code = 301
	}
	return out
}

// compileRewrite returns ok=false when the rewrite regex does not compile.
func (c *compiler) compileRewrite(vs *policy.Resource, field string, rw *networking.HTTPRewrite, headerAuthority string) (*Rewrite, bool) {
	out := &Rewrite{URI: rw.GetUri(), Authority: headerAuthority}
	// rewrite.authority wins over a Host set through headers, as in Istio.
	if a := rw.GetAuthority(); a != "" {
		out.Authority = a
	}
	if rr := rw.GetUriRegexRewrite(); rr != nil {
		re, err := compileRegexRewrite(rr)
		if err != nil {
			c.problems.fail(vs, field+".uriRegexRewrite.match", "%v", err)
			return nil, false
		}
		out.URIRegex = re
		out.URI = ""
	}
	if *out == (Rewrite{}) {
		return nil, true
	}
	return out, true
}
