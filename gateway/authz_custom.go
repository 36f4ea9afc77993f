package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/authz/provider"
	"github.com/gatehouse-dev/gatehouse/gateway/accesslog"
)

// Response code details of Envoy's ext_authz filter, beside detailsExtAuthzError.
const (
	detailsExtAuthzDenied = "ext_authz_denied"
	// detailsPayloadTooLarge is Envoy's detail when a body buffered for ext_authz exceeds
	// maxRequestBytes without allowPartialMessage.
	detailsPayloadTooLarge = "request_payload_too_large"
)

// customProvider returns the named provider of the current Set.
func (g *Gateway) customProvider(name string) (provider.Provider, bool) {
	if g.opts.Providers == nil {
		return nil, false
	}
	return g.opts.Providers().Lookup(name)
}

// askCustom asks the CUSTOM provider the decision names, as Envoy's ext_authz filter does ahead
// of jwt_authn and RBAC: its denial (or error, unless it fails open) is the reply, with UAEX in
// the access log. An allow applies its request and response changes; when it changed request
// headers, jwt_authn and RBAC decide on the changed request, so the request is checked again. It
// returns the decision that stands and whether the request may go on.
func (g *Gateway) askCustom(sw *statusWriter, r *http.Request, ar *authz.Request, d authz.Decision) (authz.Decision, bool) {
	p, ok := g.customProvider(d.CustomProvider)
	if !ok {
		// The Set changed since the engine decided: the provider is now unusable, which denies.
		g.warnCustomOnce(&d, "authz: the CUSTOM provider a policy names is not configured; requests it must check are denied")
		g.customReply(sw, provider.Result{Status: http.StatusForbidden}, detailsExtAuthzError)
		return d, false
	}
	body, ok := g.customBody(sw, r, p)
	if !ok {
		return d, false
	}
	res := p.Check(r.Context(), ar, body)
	if !res.Allowed {
		details := detailsExtAuthzDenied
		if res.Err != nil {
			details = detailsExtAuthzError
		}
		g.customReply(sw, res, details)
		return d, false
	}
	applyCustom(r, sw, &res)
	if len(res.UpstreamHeaders) > 0 || len(res.AppendUpstreamHeaders) > 0 || len(res.RemoveUpstreamHeaders) > 0 {
		ar.Header = r.Header
		d = g.opts.Authz.Check(r.Context(), ar)
	}
	return d, true
}

// customBody reads the body the provider asks for (one byte more than its maximum, to tell a
// longer body) and puts it back in front of the rest for the upstream. A body over the maximum
// without allowPartialMessage gets Envoy's 413, whatever failOpen says.
func (g *Gateway) customBody(sw *statusWriter, r *http.Request, p provider.Provider) ([]byte, bool) {
	limit, partial := p.Body()
	if limit <= 0 {
		return nil, true
	}
	if r.Body == nil || r.Body == http.NoBody {
		return []byte{}, true
	}
	if !partial && r.ContentLength > int64(limit) {
		g.tooLarge(sw)
		return nil, false
	}
	buf := make([]byte, limit+1)
	n, err := io.ReadFull(r.Body, buf)
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		err = nil
	case err != nil:
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			g.tooLarge(sw)
			return nil, false
		}
		sw.state.details = "downstream_remote_disconnect"
		localReply(sw, http.StatusBadRequest, "")
		return nil, false
	}
	buf = buf[:n]
	if !partial && n > limit {
		g.tooLarge(sw)
		return nil, false
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(buf), r.Body), r.Body}
	return buf, true
}

func (g *Gateway) tooLarge(sw *statusWriter) {
	sw.state.details = detailsPayloadTooLarge
	localReply(sw, http.StatusRequestEntityTooLarge, bodyPayloadTooLarge)
}

// customReply answers a request the provider denied, or could not decide, as Envoy's ext_authz
// filter replies: the provider's status, headers and body (the headers override the reply's
// defaults), flagged UAEX.
func (g *Gateway) customReply(sw *statusWriter, res provider.Result, details string) {
	sw.state.details = details
	sw.state.flags.Or(uint32(accesslog.UnauthorizedExternalService))
	g.metrics.authzDenied.WithLabelValues(denialCustom).Inc()
	sw.local = true
	h := sw.Header()
	if res.Body != "" {
		h.Set("Content-Type", "text/plain")
	}
	for _, name := range uniqueNames(res.DownstreamHeaders) {
		h.Del(name)
	}
	for _, dh := range res.DownstreamHeaders {
		h.Add(dh.Name, dh.Value)
	}
	h.Set("Content-Length", strconv.Itoa(len(res.Body)))
	status := res.Status
	if status < 100 || status > 999 {
		status = http.StatusForbidden
	}
	sw.WriteHeader(status)
	if res.Body != "" {
		_, _ = io.WriteString(sw, res.Body)
	}
}

// applyCustom makes an allowing provider's changes: request headers removed, then set (each name
// overridden), then appended; query parameters removed and set; response headers kept for the
// response.
func applyCustom(r *http.Request, sw *statusWriter, res *provider.Result) {
	for _, name := range res.RemoveUpstreamHeaders {
		r.Header.Del(name)
	}
	for _, name := range uniqueNames(res.UpstreamHeaders) {
		r.Header.Del(name)
	}
	for _, h := range res.UpstreamHeaders {
		r.Header.Add(h.Name, h.Value)
	}
	for _, h := range res.AppendUpstreamHeaders {
		r.Header.Add(h.Name, h.Value)
	}
	if len(res.SetQuery) > 0 || len(res.RemoveQuery) > 0 {
		r.URL.RawQuery = editQuery(r.URL.RawQuery, res.SetQuery, res.RemoveQuery)
	}
	if len(res.DownstreamHeaders) > 0 {
		sw.authzHeaders = res.DownstreamHeaders
	}
}

// editQuery removes the named parameters and sets the given ones (replacing every value of that
// name), leaving the other parameters byte for byte as the client sent them.
func editQuery(raw string, set []authz.Header, remove []string) string {
	drop := func(key string) bool {
		return slices.Contains(remove, key) || slices.ContainsFunc(set, func(h authz.Header) bool { return h.Name == key })
	}
	var kept []string
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, _, _ := strings.Cut(part, "=")
		if key, err := url.QueryUnescape(k); err == nil && drop(key) {
			continue
		}
		kept = append(kept, part)
	}
	for _, h := range set {
		kept = append(kept, url.QueryEscape(h.Name)+"="+url.QueryEscape(h.Value))
	}
	return strings.Join(kept, "&")
}

// setAuthzHeaders overrides response headers with those an allowing provider sent for the client
// (headersToDownstreamOnAllow, response_headers_to_add).
func setAuthzHeaders(h http.Header, hs []authz.Header) {
	for _, name := range uniqueNames(hs) {
		h.Del(name)
	}
	for _, ah := range hs {
		h.Add(ah.Name, ah.Value)
	}
}

func uniqueNames(hs []authz.Header) []string {
	var out []string
	for _, h := range hs {
		if !slices.ContainsFunc(out, func(n string) bool { return strings.EqualFold(n, h.Name) }) {
			out = append(out, h.Name)
		}
	}
	return out
}

// askCustomL4 asks a provider about a TCP connection (only envoyExtAuthzGrpc checks TCP): a
// denial or an error closes it, flagged UAEX, as Envoy's network ext_authz filter does.
func (g *Gateway) askCustomL4(ctx context.Context, ar *authz.Request, lc *l4Conn, d *authz.Decision) bool {
	p, ok := g.customProvider(d.CustomProvider)
	res := provider.Result{}
	if ok {
		res = p.Check(ctx, ar, nil)
	} else {
		g.warnCustomOnce(d, "authz: the CUSTOM provider a policy names is not configured; connections it must check are closed")
	}
	if res.Allowed {
		return true
	}
	lc.flags |= accesslog.UnauthorizedExternalService
	lc.details = detailsExtAuthzDenied
	if !ok || res.Err != nil {
		lc.details = detailsExtAuthzError
	}
	g.metrics.authzDenied.WithLabelValues(denialCustom).Inc()
	return false
}

func (g *Gateway) warnCustomOnce(d *authz.Decision, msg string) {
	if _, warned := customWarned.LoadOrStore(d.CustomProvider, true); !warned {
		g.log.Warn(msg, "provider", d.CustomProvider, "policy", d.CustomPolicy)
	}
}
