package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/gateway/h1"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/sds"
)

// upstream is the gateway's connection pools towards upstreams: one per protocol shared by
// every route and every Table so that a reload keeps warm connections, and one per cluster
// whose DestinationRule needs its own (TLS origination, pool limits), kept with the cluster's
// runtime state while its policy is unchanged. It is replaced only when Settings.upstream
// changes.
type upstream struct {
	settings policy.UpstreamSettings
	log      *slog.Logger
	// store holds the credentials TLS origination reads (credentialName); nil means none.
	store  *sds.Store
	http1  *h1.Transport
	h2c    *http.Transport
	proxy1 *httputil.ReverseProxy

	mu       sync.Mutex
	runtimes map[string]*clusterRuntime
	// logical maps a DNS_ROUND_ROBIN endpoint's "host:port" to the cluster that resolves it.
	logical sync.Map
}

func newUpstream(s policy.UpstreamSettings, log *slog.Logger, buffers httputil.BufferPool, store *sds.Store) *upstream {
	s = upstreamDefaults(s)
	u := &upstream{settings: s, log: log, store: store, http1: newHTTP1Transport(s), h2c: newTransport(s, true), runtimes: map[string]*clusterRuntime{}}
	u.http1.DialContext = u.dialVia(u.http1.DialContext)
	u.h2c.DialContext = u.dialVia(u.h2c.DialContext)
	errorLog := slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	newProxy := func(t http.RoundTripper) *httputil.ReverseProxy {
		return &httputil.ReverseProxy{
			Rewrite:        u.rewrite,
			Transport:      t,
			BufferPool:     buffers,
			ErrorHandler:   proxyError,
			ModifyResponse: modifyResponse,
			ErrorLog:       errorLog,
		}
	}
	// One proxy: dispatch chooses each request's pool from its cluster.
	// retryTransport (route retries and per-try timeouts) wraps dispatch, so each try goes
	// through the cluster's pool, circuit breaker and outlier detection.
	u.proxy1 = newProxy(&retryTransport{next: dispatch{u: u}})
	return u
}

func upstreamDefaults(s policy.UpstreamSettings) policy.UpstreamSettings {
	d := policy.DefaultSettings().Upstream
	if s.MaxIdleConnsPerHost <= 0 {
		s.MaxIdleConnsPerHost = d.MaxIdleConnsPerHost
	}
	if s.IdleTimeout <= 0 {
		s.IdleTimeout = d.IdleTimeout
	}
	if s.ConnectTimeout <= 0 {
		s.ConnectTimeout = d.ConnectTimeout
	}
	return s
}

// poolTransport is a connection pool towards upstreams: *h1.Transport for HTTP/1.1,
// *http.Transport for HTTP/2.
type poolTransport interface {
	http.RoundTripper
	CloseIdleConnections()
}

// newHTTP1Transport sizes an HTTP/1.1 pool for a proxy rather than for a client: a large idle
// pool per endpoint. It sends requests as given: no proxy from the environment, no transparent
// gzip (the client negotiates its own encodings with the upstream).
func newHTTP1Transport(s policy.UpstreamSettings) *h1.Transport {
	return &h1.Transport{
		DialContext:         newDialer(s).DialContext,
		MaxIdleConnsPerHost: s.MaxIdleConnsPerHost,
		IdleConnTimeout:     s.IdleTimeout.Std(),
	}
}

func newDialer(s policy.UpstreamSettings) *net.Dialer {
	return &net.Dialer{Timeout: s.ConnectTimeout.Std(), KeepAlive: 30 * time.Second}
}

// newTransport sizes an HTTP/2 (or h2c) transport for a proxy rather than for a client, as
// newHTTP1Transport does.
func newTransport(s policy.UpstreamSettings, h2c bool) *http.Transport {
	t := &http.Transport{
		Proxy:               nil,
		DialContext:         newDialer(s).DialContext,
		MaxIdleConnsPerHost: s.MaxIdleConnsPerHost,
		IdleConnTimeout:     s.IdleTimeout.Std(),
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	if h2c {
		t.Protocols = new(http.Protocols)
		t.Protocols.SetUnencryptedHTTP2(true)
	}
	return t
}

// proxy returns the reverse proxy; the protocol is decided per request by the cluster.
func (u *upstream) proxy(string) *httputil.ReverseProxy { return u.proxy1 }

func (u *upstream) closeIdle() {
	u.http1.CloseIdleConnections()
	u.h2c.CloseIdleConnections()
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, rt := range u.runtimes {
		if rt.transport != nil {
			rt.transport.CloseIdleConnections()
		}
	}
}

// exchange is what the handler decided for one request, handed to the ReverseProxy hooks
// through the request context.
type exchange struct {
	route       *Route
	destination *Destination
	endpoint    *Endpoint
	info        RequestInfo
	// rawPath is the path as the client sent it, to tell whether the upstream's differs.
	rawPath string
	// downstream is the client's context, to tell a client that went away from an upstream
	// that timed out.
	downstream context.Context
	// xfcc is the Table's forwardClientCert mode; conn the TLS connection's details, nil for
	// plaintext.
	xfcc string
	conn *connInfo
	// setCookie is the consistent-hash cookie the gateway generated for this request.
	setCookie *http.Cookie
	// noHealthy is set when, once the cluster's outlier state is known, no endpoint is up.
	noHealthy bool
}

type exchangeKey struct{}

func exchangeFrom(ctx context.Context) *exchange {
	x, _ := ctx.Value(exchangeKey{}).(*exchange)
	return x
}

// rewriteRequest builds the upstream request as an Istio gateway's Envoy does: the normalized
// path replaces the client's, the original Host is kept (unless a rewrite says otherwise), the
// connection's peer is appended to X-Forwarded-For (use_remote_address), the trusted client
// address is x-envoy-external-address, X-Forwarded-Proto is the downstream scheme, and x-request-id is generated
// when the client sent none. ReverseProxy has already removed hop-by-hop headers and the
// client's X-Forwarded-* (which is why the client's X-Forwarded-For is read from pr.In).
// x-forwarded-client-cert follows the mesh's forwardClientCertDetails.
func rewriteRequest(pr *httputil.ProxyRequest) {
	x := exchangeFrom(pr.In.Context())
	out := pr.Out
	out.URL.Scheme = "http"
	if x.destination.cluster != nil && x.destination.cluster.TLS.appliesTo(x.endpoint) {
		out.URL.Scheme = "https"
	}
	out.URL.Host = x.endpoint.Address
	// The upstream gets the path the routing and authorization saw, not the client's.
	p := x.info.NormalizedPath
	if rw := x.route.Rewrite; rw != nil {
		p = rw.path(x.route.Match, p)
		if rw.Authority != "" {
			out.Host = rw.Authority
		}
	}
	if p != x.rawPath {
		setRawPath(out.URL, p)
	}
	if ip, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
		if prior := pr.In.Header["X-Forwarded-For"]; len(prior) > 0 {
			ip = strings.Join(prior, ",") + "," + ip
		}
		out.Header["X-Forwarded-For"] = []string{ip}
	}
	out.Header["X-Forwarded-Proto"] = []string{requestScheme(pr.In)}
	// Envoy's header for the trusted client address, replacing whatever the client sent.
	delete(out.Header, "X-Envoy-External-Address")
	if x.info.RemoteIP.IsValid() {
		out.Header["X-Envoy-External-Address"] = []string{x.info.RemoteIP.String()}
	}
	applyXFCC(out.Header, x.xfcc, x.conn)
	if len(out.Header["X-Request-Id"]) == 0 {
		out.Header["X-Request-Id"] = []string{newRequestID()}
	}
	x.route.Headers.request().apply(out.Header)
	x.destination.Headers.request().apply(out.Header)
}

// setRawPath sets a URL's path from its raw (escaped) form.
func setRawPath(u *url.URL, raw string) {
	p, err := url.PathUnescape(raw)
	if err != nil {
		u.Path, u.RawPath = raw, ""
		return
	}
	u.Path, u.RawPath = p, raw
}

func modifyResponse(res *http.Response) error {
	if x := exchangeFrom(res.Request.Context()); x != nil {
		x.route.Headers.response().apply(res.Header)
		x.destination.Headers.response().apply(res.Header)
		if x.setCookie != nil {
			res.Header.Add("Set-Cookie", x.setCookie.String())
		}
	}
	return nil
}

// proxyError answers an upstream failure before response headers with Envoy's local replies.
// When the client has gone away nothing is written: there is nobody to read it.
func proxyError(w http.ResponseWriter, r *http.Request, err error) {
	x := exchangeFrom(r.Context())
	switch {
	case x != nil && x.downstream.Err() != nil:
		return
	case errors.Is(context.Cause(r.Context()), errStreamIdleTimeout):
		localReply(w, http.StatusRequestTimeout, bodyStreamTimeout)
	case errors.Is(err, errNoHealthyUpstream):
		localReply(w, http.StatusServiceUnavailable, bodyNoHealthyUpstream)
	case errors.Is(err, errOverflow):
		w.Header().Set("X-Envoy-Overloaded", "true")
		localReply(w, http.StatusServiceUnavailable, bodyOverflow)
	case errors.As(err, new(*http.MaxBytesError)):
		localReply(w, http.StatusRequestEntityTooLarge, bodyPayloadTooLarge)
	case errors.Is(err, context.DeadlineExceeded):
		localReply(w, http.StatusGatewayTimeout, bodyUpstreamTimeout)
	case isDialError(err), errors.As(err, new(*originationError)):
		localReply(w, http.StatusServiceUnavailable, bodyConnectFailure)
	default:
		localReply(w, http.StatusServiceUnavailable, bodyConnectionReset)
	}
}

// bodyOverflow is Envoy's local reply body for a request its circuit breakers refused.
const bodyOverflow = "upstream connect error or disconnect/reset before headers. reset reason: overflow"

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
