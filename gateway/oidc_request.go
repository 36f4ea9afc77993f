package gateway

import (
	"maps"
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/authz/oidc"
	"github.com/gatehouse-dev/gatehouse/gateway/accesslog"
)

// hasBearer reports whether the client sent an `Authorization: Bearer` header (RFC 6750 §2.1;
// the scheme is case-insensitive).
func hasBearer(h http.Header) bool {
	for _, v := range h["Authorization"] {
		if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
			return true
		}
	}
	return false
}

// authCheck tells authorize how the login went before it.
type authCheck struct {
	// header is what the check sees instead of the request's headers: the session's id token
	// as a bearer token. Nil is the request's headers.
	header http.Header
	// bearerSkip means the login was skipped because the client sent a bearer token. Only a
	// token that a RequestAuthentication verified may skip it: when none did, authorize writes
	// nothing, sets unverified, and the caller runs the login.
	bearerSkip bool
	unverified bool
}

// authenticate runs the OIDC login whose selector takes this gateway, then authorization. It
// answers a request that may not go on itself and reports false.
//
// A request with `Authorization: Bearer` skips the login and is decided by RequestAuthentication,
// as an API client's is (issue 7): an invalid token gets jwt_authn's 401. A token that no
// RequestAuthentication verified (none covers its issuer) does not skip it: the login then runs
// as for a request without one, so a made-up header never bypasses sign-in.
func (g *Gateway) authenticate(sw *statusWriter, r *http.Request, x *exchange) bool {
	if g.servedOwnPath(sw, r) {
		return false
	}
	g.stripIdentityHeaders(r.Header)
	gate := g.selectedLogin()
	if gate == nil {
		return g.opts.Authz == nil || g.authorize(sw, r, x, nil)
	}
	if gate.broken != nil {
		localReply(sw, http.StatusServiceUnavailable, "sign-in unavailable")
		return false
	}
	if g.opts.Authz != nil && hasBearer(r.Header) {
		ac := authCheck{bearerSkip: true}
		if g.authorize(sw, r, x, &ac) {
			return true
		}
		if !ac.unverified {
			return false
		}
	}
	out := gate.login.Handle(sw, r)
	if out.Answered {
		sw.local = true
		return false
	}
	out.Apply(r.Header)
	if g.opts.Authz == nil {
		return true
	}
	var ac *authCheck
	if h := withIDToken(r.Header, out); h != nil {
		ac = &authCheck{header: h}
	}
	return g.authorize(sw, r, x, ac)
}

// withIDToken is h with the session's id token as the bearer token, for the check only; nil
// when the request passed without a session (a skip path).
func withIDToken(h http.Header, out oidc.Outcome) http.Header {
	if out.Session == nil || out.Session.IDToken == "" {
		return nil
	}
	c := make(http.Header, len(h)+1)
	maps.Copy(c, h)
	c["Authorization"] = []string{"Bearer " + out.Session.IDToken}
	return c
}

// stripIdentityHeaders removes the identity headers of every login attached here from a request,
// before any login runs: a login attached as a CUSTOM provider runs only where its policy
// matches, and the client's own kubeflow-userid must not reach the upstream where it does not.
func (g *Gateway) stripIdentityHeaders(h http.Header) {
	s := g.logins.Load()
	if s == nil {
		return
	}
	for _, gate := range s.own {
		for _, name := range gate.identity {
			h.Del(name)
		}
	}
}

// servedOwnPath answers the callback and logout paths of a login attached only as a CUSTOM
// provider: Kubeflow's CUSTOM policy excludes /oauth2/* with notPaths, as oauth2-proxy serves
// those itself, so the policies never send them to the login. The selected login serves its own
// paths in Handle.
func (g *Gateway) servedOwnPath(sw *statusWriter, r *http.Request) bool {
	s := g.logins.Load()
	if s == nil {
		return false
	}
	for _, gate := range s.own {
		if gate == s.selected || (r.URL.Path != gate.paths[0] && r.URL.Path != gate.paths[1]) {
			continue
		}
		if gate.broken != nil {
			localReply(sw, http.StatusServiceUnavailable, "sign-in unavailable")
			return true
		}
		gate.login.Handle(sw, r)
		sw.local = true
		return true
	}
	return false
}

// askLogin runs the login serving the CUSTOM provider d names, in place of the service MeshConfig
// names for it, as oauth2-proxy answers Envoy's ext_authz in Kubeflow: a request without a
// session is answered (302 to the provider, or 401) and flagged UAEX; one with a session gets the
// identity headers, and jwt_authn and RBAC then see its id token as the bearer token, as they
// see the Authorization header oauth2-proxy sets after ext_authz. It returns the decision that
// stands and whether the request may go on.
//
// A bearer token that a RequestAuthentication verified (d has an identity) needs no login: an
// API client's request is decided as it is.
func (g *Gateway) askLogin(sw *statusWriter, r *http.Request, ar *authz.Request, d authz.Decision, gate *loginGate) (authz.Decision, bool) {
	if d.Identity != nil {
		return d, true
	}
	if gate.broken != nil {
		localReply(sw, http.StatusServiceUnavailable, "sign-in unavailable")
		return d, false
	}
	out := gate.login.Handle(sw, r)
	if out.Answered {
		sw.state.details = detailsExtAuthzDenied
		sw.state.flags.Or(uint32(accesslog.UnauthorizedExternalService))
		sw.local = true
		return d, false
	}
	out.Apply(r.Header)
	h := withIDToken(r.Header, out)
	if h == nil {
		return d, true
	}
	ar.Header = h
	again := g.opts.Authz.Check(r.Context(), ar)
	ar.Header = r.Header
	return again, true
}
