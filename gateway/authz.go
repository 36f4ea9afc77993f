package gateway

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/gateway/proxyproto"
)

// Response code details Envoy writes for its authorization filters' local replies, which users
// grep access logs for.
const (
	detailsRBACPrefix = "rbac_access_denied_matched_policy["
	detailsJWTPrefix  = "jwt_authn_access_denied{"
	// detailsExtAuthzError is Envoy's ext_authz filter's detail when the authorization service
	// cannot be asked; it answers 403 (status_on_error) with no body and the UAEX flag.
	detailsExtAuthzError = "ext_authz_error"
)

// requests holds authz.Requests between checks: Check never keeps the Request, so one per
// in-flight request is enough and the hot path allocates none.
var requests = sync.Pool{New: func() any { return new(authz.Request) }}

// customWarned remembers the CUSTOM providers already warned about, so a denied flood logs once.
var customWarned sync.Map

// authzWorkload is the workload whose policies apply to this gateway.
func (o Options) authzWorkload() *authz.Workload {
	if o.AuthzWorkload != nil {
		return o.AuthzWorkload
	}
	return authz.NewWorkload(o.Compile.Namespace, o.Compile.Labels)
}

// registerAuthz lets an in-process engine build the gateway's policy set before the first
// request rather than during it.
func registerAuthz(o Options) {
	e, ok := o.Authz.(*authz.Engine)
	if !ok {
		return
	}
	if err := e.Register(o.AuthzWorkload); err != nil {
		o.Logger.Error("authz: the gateway's policy set does not compile; its requests are denied",
			"namespace", o.AuthzWorkload.Namespace, "error", err)
	}
}

// authorize runs Istio's authentication and authorization for a request before routing, as an
// Istio gateway's jwt_authn, ext_authz and RBAC filters do ahead of the router, on the normalized
// path. It answers a denied request itself and reports false; an allowed request gets the
// decision's upstream header changes. ac, when not nil, carries what the OIDC login decided
// (see authenticate).
func (g *Gateway) authorize(sw *statusWriter, r *http.Request, x *exchange, ac *authCheck) bool {
	ar := requests.Get().(*authz.Request)
	defer func() {
		*ar = authz.Request{}
		requests.Put(ar)
	}()
	*ar = authz.Request{
		Workload:    g.opts.AuthzWorkload,
		HTTP:        true,
		Method:      r.Method,
		Host:        r.Host,
		Path:        x.info.NormalizedPath,
		RawQuery:    r.URL.RawQuery,
		Scheme:      requestScheme(r),
		Header:      r.Header,
		RemoteIP:    x.info.RemoteIP,
		Destination: localAddr(r),
	}
	if p, ok := r.Context().Value(directPeerKey{}).(netip.AddrPort); ok {
		ar.Source = p
	} else if peer, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		ar.Source = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
	}
	if ci := x.conn; ci != nil {
		ar.SNI = ci.serverName
		if ci.peer != nil {
			ar.SourcePrincipal = ci.peer.Principal
		}
	} else if r.TLS != nil {
		ar.SNI = r.TLS.ServerName
	}
	if ac != nil && ac.header != nil {
		ar.Header = ac.header
	}
	d := g.opts.Authz.Check(r.Context(), ar)
	g.logAuthzMetadata(r.Context(), &d, ar)
	// The session's token was for the check only: a CUSTOM provider sees the request as sent.
	ar.Header = r.Header
	if ac != nil && ac.bearerSkip && d.Identity == nil && (d.Allowed || denialKind(&d) != denialJWT) {
		ac.unverified = true
		return false
	}

	if d.CustomProvider != "" {
		// Istio puts ext_authz ahead of jwt_authn and RBAC: the provider sees the request as
		// sent, and what it adds (oauth2-proxy's Authorization header) is what they then see.
		var ok bool
		if gate := g.providerLogin(d.CustomProvider); gate != nil {
			d, ok = g.askLogin(sw, r, ar, d, gate)
		} else {
			d, ok = g.askCustom(sw, r, ar, d)
		}
		if !ok {
			return false
		}
	}
	if !d.Allowed {
		kind := denialKind(&d)
		sw.state.details = deniedDetails(kind, &d)
		g.metrics.authzDenied.WithLabelValues(kind).Inc()
		h := sw.Header()
		for _, rh := range d.ResponseHeaders {
			h.Set(rh.Name, rh.Value)
		}
		status := d.Status
		if status == 0 {
			status = http.StatusForbidden
		}
		localReply(sw, status, d.Reason)
		return false
	}
	applyAuthzHeaders(r, &d)
	return true
}

// applyAuthzHeaders makes an allowed decision's upstream header changes.
func applyAuthzHeaders(r *http.Request, d *authz.Decision) {
	for _, name := range d.RemoveHeaders {
		r.Header.Del(name)
	}
	for _, sh := range d.SetHeaders {
		r.Header.Set(sh.Name, sh.Value)
	}
}

// logAuthzMetadata logs what Istio only records for telemetry: AUDIT matches, dry-run results and
// the rule that allowed.
func (g *Gateway) logAuthzMetadata(ctx context.Context, d *authz.Decision, ar *authz.Request) {
	if !g.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	if d.Audited || d.DryRun.Evaluated || (d.Allowed && d.Policy != "") {
		g.log.DebugContext(ctx, "authz decision", "allowed", d.Allowed, "policy", d.Policy,
			"audited", d.Audited, "audit_policy", d.AuditPolicy,
			"dry_run", d.DryRun.Evaluated, "dry_run_allowed", d.DryRun.Allowed, "dry_run_policy", d.DryRun.Policy,
			"path", ar.Path, "http", ar.HTTP)
	}
}

// Which filter a denial stands for: the gatehouse_authz_denied_total reason label.
const (
	denialJWT    = "jwt"
	denialRBAC   = "rbac"
	denialCustom = "custom"
	denialError  = "error"
)

// denialKind tells which of Envoy's filters would have denied: RBAC says "RBAC: access denied";
// jwt_authn answers 401, or 403 with its own reason (a disallowed audience). The engine's own
// fail-closed reasons start with "authz:".
func denialKind(d *authz.Decision) string {
	switch {
	case d.Reason == authz.ReasonDenied:
		return denialRBAC
	case d.Status == http.StatusUnauthorized,
		d.Status == http.StatusForbidden && d.Reason != "" && !strings.HasPrefix(d.Reason, "authz:"):
		return denialJWT
	}
	return denialError
}

// deniedDetails is %RESPONSE_CODE_DETAILS% for a denial, as the Envoy filter that denied sets it:
// RBAC names the matched policy ("none" when no ALLOW rule matched), jwt_authn carries its reason
// with spaces made underscores. A denial without a decision reads as an ext_authz error.
func deniedDetails(kind string, d *authz.Decision) string {
	switch kind {
	case denialRBAC:
		return rbacDetails(d.Policy)
	case denialJWT:
		return detailsJWTPrefix + underscoreSpaces(d.Reason) + "}"
	}
	return detailsExtAuthzError
}

func rbacDetails(policy string) string {
	if policy == "" {
		policy = "none"
	}
	return detailsRBACPrefix + policy + "]"
}

// underscoreSpaces is Envoy's StringUtil::replaceAllEmptySpace: details never contain
// whitespace, because log processors split on it.
func underscoreSpaces(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\f', '\v', '\n', '\r':
			return '_'
		}
		return r
	}, s)
}

// authorizeL4 checks a TCP, passed-through or terminated-TLS connection once, before the upstream
// is dialed, as Istio's network RBAC filter does. sni is the client's server name. A denial is
// recorded in lc for the access log; the caller closes the connection, as Envoy's filter does.
func (g *Gateway) authorizeL4(ctx context.Context, down net.Conn, lc *l4Conn) bool {
	ar := requests.Get().(*authz.Request)
	defer func() {
		*ar = authz.Request{}
		requests.Put(ar)
	}()
	remote := addrPort(down.RemoteAddr())
	*ar = authz.Request{
		Workload:    g.opts.AuthzWorkload,
		Source:      directPeer(down, remote),
		RemoteIP:    remote.Addr(),
		Destination: addrPort(down.LocalAddr()),
		SNI:         lc.sni,
	}
	if tc, ok := down.(*tls.Conn); ok {
		if p := newPeer(tc.ConnectionState()); p != nil {
			ar.SourcePrincipal = p.Principal
		}
	}
	d := g.opts.Authz.Check(ctx, ar)
	g.logAuthzMetadata(ctx, &d, ar)
	switch {
	case d.CustomProvider != "" && !g.askCustomL4(ctx, ar, lc, &d):
		return false
	case !d.Allowed:
		// Envoy's network RBAC filter closes the connection with no response flag; the
		// termination details name the policy.
		kind := denialKind(&d)
		lc.details = deniedDetails(kind, &d)
		g.metrics.authzDenied.WithLabelValues(kind).Inc()
		return false
	}
	return true
}

// directPeer is the socket peer of a connection: the PROXY protocol header's source stands for
// the client (remote.ip), while Istio's ipBlocks and source.ip read the direct peer.
func directPeer(c net.Conn, remote netip.AddrPort) netip.AddrPort {
	if p, ok := proxiedPeer(c); ok {
		return p
	}
	return remote
}

// proxiedPeer is the socket peer under a PROXY protocol header, when c carries one: Envoy keeps
// it as the direct remote address that source.ip reads.
func proxiedPeer(c net.Conn) (netip.AddrPort, bool) {
	for c != nil {
		switch v := c.(type) {
		case *proxyproto.Conn:
			return addrPort(v.Conn.RemoteAddr()), true
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return netip.AddrPort{}, false
		}
	}
	return netip.AddrPort{}, false
}

// directPeerKey holds, in a request context, the socket peer of a connection that arrived with a
// PROXY protocol header (its RemoteAddr is the header's source).
type directPeerKey struct{}
