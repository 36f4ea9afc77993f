package gateway

import (
	"net/http"
	"strconv"
	"strings"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// CORSPolicy is a route's corsPolicy with the semantics of Envoy's CORS filter.
type CORSPolicy struct {
	AllowOrigins []*StringMatch `yaml:"allowOrigins,omitempty"`
	// AllowMethods, AllowHeaders, ExposeHeaders and MaxAge are the header values, joined as
	// Istio joins them.
	AllowMethods     string `yaml:"allowMethods,omitempty"`
	AllowHeaders     string `yaml:"allowHeaders,omitempty"`
	ExposeHeaders    string `yaml:"exposeHeaders,omitempty"`
	MaxAge           string `yaml:"maxAge,omitempty"`
	AllowCredentials bool   `yaml:"allowCredentials,omitempty"`
	// ForwardUnmatchedPreflights passes preflights from other origins to the upstream (FORWARD,
	// Istio's default); otherwise the gateway answers them without CORS headers (IGNORE).
	ForwardUnmatchedPreflights bool `yaml:"forwardUnmatchedPreflights"`
}

func (c *compiler) compileCORS(vs *policy.Resource, field string, in *networking.CorsPolicy) *CORSPolicy {
	if in == nil {
		return nil
	}
	out := &CORSPolicy{
		AllowMethods:               strings.Join(in.GetAllowMethods(), ","),
		AllowHeaders:               strings.Join(in.GetAllowHeaders(), ","),
		ExposeHeaders:              strings.Join(in.GetExposeHeaders(), ","),
		AllowCredentials:           in.GetAllowCredentials().GetValue(),
		ForwardUnmatchedPreflights: in.GetUnmatchedPreflights() != networking.CorsPolicy_IGNORE,
	}
	if in.GetMaxAge() != nil {
		out.MaxAge = strconv.FormatInt(in.GetMaxAge().GetSeconds(), 10)
	}
	//lint:ignore SA1019 the deprecated allowOrigin is still exact origins in Istio.
	for _, o := range in.GetAllowOrigin() {
		out.AllowOrigins = append(out.AllowOrigins, &StringMatch{Kind: MatchExact, Value: o})
	}
	for i, o := range in.GetAllowOrigins() {
		m, err := compileStringMatch(o, false)
		if err != nil {
			c.problems.warn(vs, field+".allowOrigins["+strconv.Itoa(i)+"]", "%v: origin ignored", err)
			continue
		}
		out.AllowOrigins = append(out.AllowOrigins, m)
	}
	return out
}

// originAllowed is Envoy's check: a matcher that accepts "*" allows every origin.
func (p *CORSPolicy) originAllowed(origin string) bool {
	for _, m := range p.AllowOrigins {
		if m.Match("*") || m.Match(origin) {
			return true
		}
	}
	return false
}

// preflight answers a CORS preflight as Envoy's CORS filter does; false when the request is
// not a preflight or is to be forwarded.
func (p *CORSPolicy) preflight(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if r.Method != http.MethodOptions || origin == "" || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	if !p.originAllowed(origin) {
		if p.ForwardUnmatchedPreflights {
			return false
		}
		localReply(w, http.StatusOK, "")
		return true
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	if p.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if p.AllowMethods != "" {
		h.Set("Access-Control-Allow-Methods", p.AllowMethods)
	}
	if p.AllowHeaders != "" {
		h.Set("Access-Control-Allow-Headers", p.AllowHeaders)
	}
	if p.MaxAge != "" {
		h.Set("Access-Control-Max-Age", p.MaxAge)
	}
	localReply(w, http.StatusOK, "")
	return true
}

// responseHeaders adds the CORS headers of a response to an allowed origin, replacing the
// upstream's own, as Envoy's filter does on the way back.
func (p *CORSPolicy) responseHeaders(h http.Header, origin string) {
	if origin == "" || !p.originAllowed(origin) {
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	if p.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if p.ExposeHeaders != "" {
		h.Set("Access-Control-Expose-Headers", p.ExposeHeaders)
	}
}
