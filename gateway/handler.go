package gateway

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/gateway/accesslog"
)

// listenerHandler serves one listener from whatever Table is current when a request starts;
// the request keeps that Table to the end, so a reload never changes a request half-way.
type listenerHandler struct {
	g   *Gateway
	key ListenerKey
	// maxBody is Settings.downstream.maxRequestBytes; 0 is unlimited.
	maxBody int64
}

func (h *listenerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g := h.g
	g.metrics.active.Inc()
	defer g.metrics.active.Dec()
	rs := &routeState{start: time.Now(), log: g.accessLogs.live.Load()}
	sw := &statusWriter{ResponseWriter: w, state: rs}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &countingBody{ReadCloser: r.Body, n: &rs.received}
	}
	if rs.log != nil && len(r.Header["X-Request-Id"]) == 0 {
		// Generated here rather than when forwarding, so the log line carries the id the
		// upstream sees; local replies get one too, as Envoy's do.
		r.Header["X-Request-Id"] = []string{newRequestID()}
	}
	// Deferred so that a response aborted mid-body (ReverseProxy panics with
	// http.ErrAbortHandler) is still counted and logged.
	defer func() { g.finish(r, sw) }()
	if g.acmeHTTP(sw, r) {
		sw.local = true
		return
	}
	var vh *VirtualHost
	t := g.table.Load()
	ci := connInfoFrom(r.Context())
	if t != nil {
		l := t.listener(h.key)
		switch {
		case ci != nil:
			vh = ci.virtualHost(l, r.Host, w.Header())
		case l != nil && (l.Protocol == "HTTP" || l.Permissive):
			vh = l.virtualHost(r.Host)
		default:
			// A plaintext connection from before its port became TLS (or went away): drain it.
			w.Header().Set("Connection", "close")
		}
	}
	// With authorization on, a request for no virtual host is still authorized first: Envoy's
	// RBAC filter runs before the router finds no route.
	if vh == nil && (t == nil || (g.opts.Authz == nil && !g.hasLogins())) {
		rs.noRoute()
		localReply(sw, http.StatusNotFound, "")
		return
	}
	raw := requestPath(r)
	path, err := normalizePath(t.pathMode, raw)
	if err != nil {
		localReply(sw, http.StatusBadRequest, "")
		return
	}
	rs.x = &exchange{
		info:       RequestInfo{NormalizedPath: path, RemoteIP: remoteIP(peerIP(r.RemoteAddr), r.Header["X-Forwarded-For"], t.NumTrustedProxies)},
		rawPath:    raw,
		downstream: r.Context(),
		xfcc:       t.ForwardClientCert,
		conn:       ci,
	}
	ctx := context.WithValue(r.Context(), exchangeKey{}, rs.x)
	r = r.WithContext(context.WithValue(ctx, routeStateKey{}, rs))
	// Authentication and authorization come first in an Istio gateway's filter chain, on the
	// normalized path: a denied request reaches no route, fault or upstream.
	if g.opts.Authz != nil || g.hasLogins() {
		if !g.authenticate(sw, r, rs.x) {
			return
		}
		if vh == nil {
			rs.noRoute()
			localReply(sw, http.StatusNotFound, "")
			return
		}
	}
	if !limitBody(sw, r, h.maxBody) {
		return
	}
	if vh.RequireTLS && r.TLS == nil {
		w.Header().Set("Location", "https://"+r.Host+path+query(r))
		localReply(sw, http.StatusMovedPermanently, "")
		return
	}
	route := vh.route(r, path)
	if route == nil {
		rs.noRoute()
		localReply(sw, http.StatusNotFound, "")
		return
	}
	rs.x.route = route
	// The CORS filter comes first in Istio's chain: a preflight is answered before any fault
	// or routing, and every later response carries the CORS headers.
	if route.CORS != nil && route.CORS.preflight(sw, r) {
		return
	}
	sw.cors, sw.origin = route.CORS, r.Header.Get("Origin")
	switch {
	case route.Redirect != nil:
		route.Headers.response().apply(sw.Header())
		sw.Header().Set("Location", route.Redirect.location(r, path))
		localReply(sw, route.Redirect.Code, "")
	case route.DirectResponse != nil:
		route.Headers.response().apply(sw.Header())
		localReply(sw, route.DirectResponse.Status, route.DirectResponse.Body)
	default:
		g.forward(sw, r, rs.x, route)
	}
}

// route returns the first route of the virtual host that matches, or nil.
func (vh *VirtualHost) route(r *http.Request, path string) *Route {
	for _, rt := range vh.Routes {
		if rt.Match.matches(r, path) {
			return rt
		}
	}
	return nil
}

// forward proxies the request to an endpoint of one of the route's destinations, after the
// route's fault injection. The route timeout starts after an injected delay (the fault filter
// runs before Envoy's router) and covers every retry.
func (g *Gateway) forward(w http.ResponseWriter, r *http.Request, x *exchange, route *Route) {
	// Picked before the fault filter runs, so that the access log and metrics name the
	// cluster of a faulted request, as Envoy's do.
	d := route.pick()
	x.destination = d
	if route.Fault != nil && !route.Fault.inject(w, r) {
		return
	}
	if d == nil || d.cluster == nil {
		// Envoy's "cluster not found": 503 with no body.
		setFlags(r.Context(), accesslog.NoClusterFound)
		localReply(w, http.StatusServiceUnavailable, "")
		return
	}
	var ep *Endpoint
	if d.cluster.DynamicForward != nil {
		// Dialed by the request's own name: no endpoint to pick, and none to count in flight
		// beyond this request.
		if ep = g.dynamicEndpoint(w, r, d.cluster, route); ep == nil {
			return
		}
	} else if ep = d.cluster.pick(); ep == nil {
		localReply(w, http.StatusServiceUnavailable, bodyNoHealthyUpstream)
		return
	}
	ep.inflight.Add(1)
	defer ep.inflight.Add(-1)
	x.endpoint = ep
	if len(route.Mirrors) > 0 {
		g.mirror(r, x)
	}
	// An upgraded connection is watched too: its bytes are counted once hijacked (streamidle.go).
	if idle := g.opts.StreamIdleTimeout; idle > 0 {
		if rs, ok := r.Context().Value(routeStateKey{}).(*routeState); ok {
			ctx, stop := watchStreamIdle(w, r.Context(), rs, idle)
			defer stop()
			r = r.WithContext(ctx)
		}
	}
	if route.Timeout > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), time.Duration(route.Timeout))
		defer cancel()
		r = r.WithContext(ctx)
	}
	if s, ok := r.Context().Value(routeStateKey{}).(*routeState); ok {
		s.upstreamStart = time.Now()
	}
	g.upstream.Load().proxy(d.cluster.Protocol).ServeHTTP(w, r)
}

// routeState is what the gateway decided and measured about one request, for the access log
// and metrics.
type routeState struct {
	// flags are set by whichever goroutine a route action runs on (retries, timeouts).
	flags atomic.Uint32
	start time.Time
	// log is the access log when the request started; nil when it is off.
	log *accessLogSink
	// x is the exchange once the request has a path; its route, destination and endpoint as
	// far as the request got.
	x *exchange
	// received counts request body bytes; the upstream transport reads the body on its own
	// goroutine.
	received atomic.Int64
	// upstreamStart is when the request was handed to the upstream; serviceTime how long the
	// upstream took to answer with headers, when it did.
	upstreamStart time.Time
	serviceTime   time.Duration
	// details is %RESPONSE_CODE_DETAILS% where the gateway knows it.
	details string
	// writes counts response body writes and responded is set with the response headers, for
	// the stream idle watch, which runs on a timer goroutine.
	writes    atomic.Int64
	responded atomic.Bool
}

func (s *routeState) noRoute() {
	s.flags.Or(uint32(accesslog.NoRouteFound))
	s.details = "route_not_found"
}

type routeStateKey struct{}

// setFlags records Envoy response flags for the request ctx belongs to.
func setFlags(ctx context.Context, f accesslog.ResponseFlags) {
	if s, ok := ctx.Value(routeStateKey{}).(*routeState); ok {
		s.flags.Or(uint32(f))
	}
}

// ResponseFlagsFrom returns the response flags that route actions (fault injection, retries,
// timeouts) set on a request the gateway is serving.
func ResponseFlagsFrom(ctx context.Context) accesslog.ResponseFlags {
	if s, ok := ctx.Value(routeStateKey{}).(*routeState); ok {
		return accesslog.ResponseFlags(s.flags.Load())
	}
	return 0
}

func query(r *http.Request) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	return "?" + r.URL.RawQuery
}

// location builds the redirect target from the request, as Envoy's redirect action does: each
// part not given keeps the request's, and the query is kept unless the new uri has its own.
func (rd *Redirect) location(r *http.Request, path string) string {
	scheme := requestScheme(r)
	from := scheme
	changed := rd.Scheme != "" && rd.Scheme != scheme
	if rd.Scheme != "" {
		scheme = rd.Scheme
	}
	host := r.Host
	if rd.Authority != "" {
		host = rd.Authority
	}
	switch {
	case rd.Port != 0:
		host = stripPort(host) + ":" + strconv.FormatUint(uint64(rd.Port), 10)
	case rd.StripPort:
		host = stripPort(host)
	case changed && host != stripPort(host) && host[len(stripPort(host)):] == ":"+defaultPort(from):
		// The request's port was the default of the scheme being replaced.
		host = stripPort(host)
	}
	if rd.URI == "" {
		return scheme + "://" + host + path + query(r)
	}
	for i := 0; i < len(rd.URI); i++ {
		if rd.URI[i] == '?' {
			return scheme + "://" + host + rd.URI
		}
	}
	return scheme + "://" + host + rd.URI + query(r)
}

// requestScheme is the scheme the client used to reach the gateway.
func requestScheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}
