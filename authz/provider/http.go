package provider

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/authz"
)

// Headers Envoy's ext_authz filter reads or writes on the HTTP authorization request and response.
const (
	headerPartialBody     = "x-envoy-auth-partial-body"
	headerHeadersToRemove = "x-envoy-auth-headers-to-remove"
)

// maxDeniedBody bounds the denial body kept from an HTTP authorization service.
const maxDeniedBody = 1 << 20

// httpProvider asks an envoyExtAuthzHttp service the way Envoy's ext_authz filter does with an
// http_service: the original method and path (after pathPrefix) and authority, only the allowed
// headers, and the body only with includeRequestBodyInCheck.
type httpProvider struct {
	s         *settings
	log       *slog.Logger
	transport *http.Transport
	client    *http.Client
}

func newHTTP(s *settings, log *slog.Logger) *httpProvider {
	tr := &http.Transport{
		// The provider is a mesh service dialed directly: no environment proxy.
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
	return &httpProvider{s: s, log: log, transport: tr, client: &http.Client{
		Transport: tr,
		// Envoy's async client does not follow redirects: a 3xx is a denial the client sees.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (p *httpProvider) Body() (int, bool)      { return p.s.maxBody, p.s.allowPartial }
func (p *httpProvider) timeout() time.Duration { return p.s.timeout }

// Close drops the idle connections to the service.
func (p *httpProvider) Close() error {
	p.transport.CloseIdleConnections()
	return nil
}

func (p *httpProvider) Check(ctx context.Context, r *authz.Request, body []byte) Result {
	ctx, cancel := context.WithTimeout(ctx, p.s.timeout)
	defer cancel()
	req, err := p.request(ctx, r, body)
	if err != nil {
		return p.s.failed(ctx, p.log, err)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return p.s.failed(ctx, p.log, err)
	}
	defer func() { _ = resp.Body.Close() }()
	switch {
	case resp.StatusCode >= 500:
		// Envoy reads a 5xx from the authorization service as an error, not a denial.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDeniedBody))
		return p.s.failed(ctx, p.log, fmt.Errorf("authorization service answered %d", resp.StatusCode))
	case resp.StatusCode == http.StatusOK:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDeniedBody))
		return p.allowed(resp.Header)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxDeniedBody))
	if err != nil {
		return p.s.failed(ctx, p.log, err)
	}
	return Result{Status: resp.StatusCode, Body: string(b), DownstreamHeaders: p.deniedHeaders(resp.Header)}
}

// request builds the authorization request Envoy's raw HTTP client sends.
func (p *httpProvider) request(ctx context.Context, r *authz.Request, body []byte) (*http.Request, error) {
	target := p.s.pathPrefix + r.Path
	if target == "" {
		target = "/"
	}
	partial := false
	if body != nil && len(body) > p.s.maxBody {
		body, partial = body[:p.s.maxBody], true
	}
	var rd io.Reader = http.NoBody
	if len(body) > 0 {
		rd = strings.NewReader(string(body))
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, "http://"+p.s.addr+"/", rd)
	if err != nil {
		return nil, err
	}
	// Opaque keeps the checked path byte for byte, as the upstream will receive it.
	req.URL.Opaque, req.URL.RawQuery = target, r.RawQuery
	req.Host = r.Host
	req.ContentLength = int64(len(body))
	h := make(http.Header, 4)
	for k, vs := range r.Header {
		lower := strings.ToLower(k)
		switch lower {
		case "content-length", "host", "transfer-encoding", "connection":
			continue
		}
		// Authorization always goes, with Host, Method, Path and Content-Length (the request line).
		if lower == "authorization" || p.s.requestHeaders.matches(lower) {
			h[k] = []string{strings.Join(vs, ",")}
		}
	}
	for _, a := range p.s.additional {
		h.Set(a.Name, a.Value)
	}
	if p.s.maxBody > 0 {
		h.Set(headerPartialBody, strconv.FormatBool(partial))
	}
	req.Header = h
	return req, nil
}

// allowed reads a 200: headersToUpstreamOnAllow go to the upstream request (overriding),
// headersToDownstreamOnAllow to the client's response, and the service may name request headers
// to remove in x-envoy-auth-headers-to-remove.
func (p *httpProvider) allowed(h http.Header) Result {
	res := Result{Allowed: true, Status: http.StatusOK}
	for k, vs := range h {
		lower := strings.ToLower(k)
		if lower == headerHeadersToRemove {
			for _, v := range vs {
				for n := range strings.SplitSeq(v, ",") {
					if n = strings.TrimSpace(n); n != "" {
						res.RemoveUpstreamHeaders = append(res.RemoveUpstreamHeaders, n)
					}
				}
			}
			continue
		}
		if p.s.upstreamOnAllow.matches(lower) {
			res.UpstreamHeaders = append(res.UpstreamHeaders, authz.Header{Name: k, Value: strings.Join(vs, ",")})
		}
		if p.s.downstreamOnAllow.matches(lower) {
			res.DownstreamHeaders = append(res.DownstreamHeaders, authz.Header{Name: k, Value: strings.Join(vs, ",")})
		}
	}
	return res
}

// deniedHeaders are the headers of a denial that reach the client: with headersToDownstreamOnDeny
// unset all but Host; with it set, those it matches plus Path, Status, Content-Length,
// WWW-Authenticate and Location, as Envoy adds them. Framing headers are the gateway's own.
func (p *httpProvider) deniedHeaders(h http.Header) []authz.Header {
	var out []authz.Header
	for k, vs := range h {
		lower := strings.ToLower(k)
		switch lower {
		case "host", "content-length", "transfer-encoding", "connection", "keep-alive":
			continue
		}
		if m := p.s.downstreamOnDeny; m != nil && !m.matches(lower) && lower != "www-authenticate" && lower != "location" {
			continue
		}
		for _, v := range vs {
			out = append(out, authz.Header{Name: k, Value: v})
		}
	}
	return out
}

// failed applies failOpen / statusOnError to a check that got no answer.
func (s *settings) failed(ctx context.Context, log *slog.Logger, err error) Result {
	err = fmt.Errorf("ext_authz provider %q: %w", s.name, err)
	log.WarnContext(ctx, "authz: CUSTOM provider check failed", "provider", s.name, "address", s.addr,
		"fail_open", s.failOpen, "error", err)
	if s.failOpen {
		return Result{Allowed: true, Status: http.StatusOK, Err: err}
	}
	return Result{Status: s.statusOnError, Err: err}
}
