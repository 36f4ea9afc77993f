package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// Mirror sends a copy of a share of a route's requests to another destination and ignores the
// answer.
type Mirror struct {
	Cluster string `yaml:"cluster"`
	// Percent of requests mirrored, 0 to 100.
	Percent float64 `yaml:"percent"`
	// NotFound marks a destination no ServiceEntry resolves: nothing is mirrored.
	NotFound bool `yaml:"notFound,omitempty"`

	cluster *Cluster
}

const (
	// mirrorBodyLimit is the largest body copied to a mirror; a request with a larger or
	// streamed body is not mirrored, so mirroring never holds a request back.
	mirrorBodyLimit = 1 << 20
	// mirrorTimeout bounds a mirrored request when the route has no timeout, so that no copy
	// outlives its usefulness.
	mirrorTimeout = 30 * time.Second
)

// compileMirrors reads the legacy mirror (with mirrorPercentage or mirrorPercent) and mirrors;
// a missing percentage mirrors everything, as in Istio.
func (c *compiler) compileMirrors(vs *policy.Resource, field string, h *networking.HTTPRoute, port uint32) []*Mirror {
	var out []*Mirror
	add := func(f string, d *networking.Destination, pct *networking.Percent) {
		cl, name := c.cluster(vs, f, d, port, false)
		m := &Mirror{Cluster: name, Percent: 100, NotFound: cl == nil, cluster: cl}
		if pct != nil {
			m.Percent = pct.GetValue()
		}
		out = append(out, m)
	}
	if d := h.GetMirror(); d != nil {
		pct := h.GetMirrorPercentage()
		//lint:ignore SA1019 Istio still honours the deprecated mirrorPercent.
		if legacy := h.GetMirrorPercent(); pct == nil && legacy != nil {
			pct = &networking.Percent{Value: float64(legacy.GetValue())}
		}
		add(field+".mirror", d, pct)
	}
	for i, m := range h.GetMirrors() {
		add(fmt.Sprintf("%s.mirrors[%d].destination", field, i), m.GetDestination(), m.GetPercentage())
	}
	return out
}

// mirror sends the copies of a request that the route's mirrors draw. It reads a small body
// into memory, and gives the request a replay of it.
func (g *Gateway) mirror(r *http.Request, x *exchange) {
	var targets []*Mirror
	for _, m := range x.route.Mirrors {
		if m.cluster != nil && sampled(m.Percent) {
			targets = append(targets, m)
		}
	}
	if len(targets) == 0 {
		return
	}
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		if r.ContentLength <= 0 || r.ContentLength > mirrorBodyLimit {
			return
		}
		b, err := io.ReadAll(io.LimitReader(r.Body, r.ContentLength))
		if err != nil {
			// The forwarded request will meet the same error.
			r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(b), r.Body))
			return
		}
		body = b
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	timeout := time.Duration(x.route.Timeout)
	if timeout <= 0 {
		timeout = mirrorTimeout
	}
	u := g.upstream.Load()
	for _, m := range targets {
		req, ep := mirrorRequest(r, x, m, body)
		if ep == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		// The copy goes through the mirror cluster's own pool, limits and TLS, as a request
		// routed to it would; it has no route, so it is never retried.
		mx := &exchange{destination: &Destination{Cluster: m.Cluster, cluster: m.cluster}, endpoint: ep, downstream: ctx}
		ctx = context.WithValue(ctx, exchangeKey{}, mx)
		rt := u.proxy(m.cluster.Protocol).Transport
		go func() {
			defer cancel()
			res, err := rt.RoundTrip(req.WithContext(ctx))
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
		}()
	}
}

// hopHeaders are removed from a mirrored request, as from a forwarded one.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// mirrorRequest builds the copy: the forwarded path, headers and route header operations,
// and the authority with "-shadow" appended to the host, as Envoy marks shadow traffic.
func mirrorRequest(r *http.Request, x *exchange, m *Mirror, body []byte) (*http.Request, *Endpoint) {
	ep := m.cluster.pick()
	if ep == nil {
		return nil, nil
	}
	u := *r.URL
	u.Scheme, u.Host = "http", ep.Address
	setRawPath(&u, x.route.Rewrite.path(x.route.Match, x.info.NormalizedPath))
	req := &http.Request{
		Method:        r.Method,
		URL:           &u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        r.Header.Clone(),
		ContentLength: int64(len(body)),
		Body:          http.NoBody,
	}
	if len(body) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	if req.Header == nil {
		req.Header = http.Header{}
	}
	for _, c := range r.Header["Connection"] {
		for _, name := range strings.Split(c, ",") {
			req.Header.Del(strings.TrimSpace(name))
		}
	}
	for _, name := range hopHeaders {
		req.Header.Del(name)
	}
	host := r.Host
	if rw := x.route.Rewrite; rw != nil && rw.Authority != "" {
		host = rw.Authority
	}
	req.Host = shadowHost(host)
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if prior := r.Header["X-Forwarded-For"]; len(prior) > 0 {
			ip = strings.Join(prior, ",") + "," + ip
		}
		req.Header["X-Forwarded-For"] = []string{ip}
	}
	req.Header["X-Forwarded-Proto"] = []string{requestScheme(r)}
	x.route.Headers.request().apply(req.Header)
	if m.cluster.TLS.appliesTo(ep) {
		u.Scheme = "https"
	}
	return req, ep
}

// shadowHost appends "-shadow" to the host part of an authority, before any port.
func shadowHost(authority string) string {
	host, port, err := net.SplitHostPort(authority)
	if err != nil {
		return authority + "-shadow"
	}
	return net.JoinHostPort(host+"-shadow", port)
}
