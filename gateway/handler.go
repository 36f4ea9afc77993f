package gateway

import (
	"context"
	"net/http"
	"strconv"
	"time"
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
	start := time.Now()
	g := h.g
	g.metrics.active.Inc()
	defer g.metrics.active.Dec()
	var vh *VirtualHost
	t := g.table.Load()
	ci := connInfoFrom(r.Context())
	if t != nil {
		l := t.listener(h.key)
		switch {
		case ci != nil:
			vh = ci.virtualHost(l, r.Host, w.Header())
		case l != nil && l.Protocol == "HTTP":
			vh = l.virtualHost(r.Host)
		default:
			// A plaintext connection from before its port became TLS (or went away): drain it.
			w.Header().Set("Connection", "close")
		}
	}
	if vh == nil {
		localReply(w, http.StatusNotFound, "")
		g.metrics.observe(routeNone, http.StatusNotFound, start)
		return
	}
	raw := requestPath(r)
	path, err := normalizePath(t.pathMode, raw)
	if err != nil {
		localReply(w, http.StatusBadRequest, "")
		g.metrics.observe(routeNone, http.StatusBadRequest, start)
		return
	}
	x := &exchange{
		info:       RequestInfo{NormalizedPath: path, RemoteIP: remoteIP(peerIP(r.RemoteAddr), r.Header["X-Forwarded-For"], t.NumTrustedProxies)},
		rawPath:    raw,
		downstream: r.Context(),
		xfcc:       t.ForwardClientCert,
		conn:       ci,
	}
	r = r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x))
	if !limitBody(w, r, h.maxBody) {
		g.metrics.observe(routeNone, http.StatusRequestEntityTooLarge, start)
		return
	}
	if vh.RequireTLS && r.TLS == nil {
		w.Header().Set("Location", "https://"+r.Host+path+query(r))
		localReply(w, http.StatusMovedPermanently, "")
		g.metrics.observe(routeHTTPSRedirect, http.StatusMovedPermanently, start)
		return
	}
	route := vh.route(r, path)
	if route == nil {
		localReply(w, http.StatusNotFound, "")
		g.metrics.observe(routeNone, http.StatusNotFound, start)
		return
	}
	code := 0
	// Deferred so that a response aborted mid-body (ReverseProxy panics with
	// http.ErrAbortHandler) is still counted.
	defer func() { g.metrics.observe(route.Name, code, start) }()
	switch {
	case route.Redirect != nil:
		route.Headers.response().apply(w.Header())
		w.Header().Set("Location", route.Redirect.location(r, path))
		code = route.Redirect.Code
		localReply(w, code, "")
	case route.DirectResponse != nil:
		route.Headers.response().apply(w.Header())
		code = route.DirectResponse.Status
		localReply(w, code, route.DirectResponse.Body)
	default:
		sw := &statusWriter{ResponseWriter: w}
		defer func() { code = sw.code }()
		g.forward(sw, r, x, route)
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

// forward proxies the request to an endpoint of one of the route's destinations.
func (g *Gateway) forward(w http.ResponseWriter, r *http.Request, x *exchange, route *Route) {
	d := route.pick()
	if d == nil || d.cluster == nil {
		// Envoy's "cluster not found": 503 with no body.
		localReply(w, http.StatusServiceUnavailable, "")
		return
	}
	ep := d.cluster.pick()
	if ep == nil {
		localReply(w, http.StatusServiceUnavailable, bodyNoHealthyUpstream)
		return
	}
	ep.inflight.Add(1)
	defer ep.inflight.Add(-1)
	x.route, x.destination, x.endpoint = route, d, ep
	if route.Timeout > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), time.Duration(route.Timeout))
		defer cancel()
		r = r.WithContext(ctx)
	}
	g.upstream.Load().proxy(d.cluster.Protocol).ServeHTTP(w, r)
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
