package provider

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/authz/extauthz"
)

// grpcProvider asks an envoyExtAuthzGrpc service with the CheckRequest Envoy's ext_authz filter
// sends: every request header, no context_extensions (istiod sets none), and the body only with
// includeRequestBodyInCheck.
type grpcProvider struct {
	s      *settings
	log    *slog.Logger
	client *extauthz.Client
}

func newGRPC(s *settings, log *slog.Logger) (*grpcProvider, error) {
	c, err := extauthz.NewClient(s.addr, extauthz.ClientOptions{Log: log, Timeout: s.timeout, OmitWorkload: true})
	if err != nil {
		return nil, err
	}
	return &grpcProvider{s: s, log: log, client: c}, nil
}

func (p *grpcProvider) Body() (int, bool)      { return p.s.maxBody, p.s.allowPartial }
func (p *grpcProvider) timeout() time.Duration { return p.s.timeout }

// Close closes the connection to the service.
func (p *grpcProvider) Close() error { return p.client.Close() }

func (p *grpcProvider) Check(ctx context.Context, r *authz.Request, body []byte) Result {
	cr := p.client.CheckRequest(r)
	if h := cr.GetAttributes().GetRequest().GetHttp(); h != nil && p.s.maxBody > 0 {
		partial := false
		if len(body) > p.s.maxBody {
			body, partial = body[:p.s.maxBody], true
		}
		if p.s.packAsBytes {
			h.RawBody = body
		} else {
			h.Body = string(body)
		}
		h.Headers[headerPartialBody] = strconv.FormatBool(partial)
	}
	resp, err := p.client.Ask(ctx, cr)
	if err != nil {
		return p.s.failed(ctx, p.log, err)
	}
	if e := resp.GetErrorResponse(); e != nil && resp.GetStatus().GetCode() != 0 {
		return p.s.failed(ctx, p.log, fmt.Errorf("error_response: %s", resp.GetStatus().GetMessage()))
	}
	return grpcResult(resp)
}

// grpcResult reads a CheckResponse as Envoy's ext_authz filter does: status OK allows with the
// ok_response's changes; any other status denies with the denied_response (403 when it sets
// none).
func grpcResult(resp *authv3.CheckResponse) Result {
	var res Result
	if md := resp.GetDynamicMetadata(); md != nil {
		res.DynamicMetadata = md.AsMap()
	}
	if resp.GetStatus().GetCode() == 0 {
		ok := resp.GetOkResponse()
		res.Allowed, res.Status = true, http.StatusOK
		for _, o := range ok.GetHeaders() {
			h := authz.Header{Name: o.GetHeader().GetKey(), Value: headerValue(o.GetHeader())}
			// In an OkHttpResponse, append defaults to false: the header overrides. Servers
			// (opa-envoy-plugin among them) still set the deprecated field, which Envoy honours.
			//lint:ignore SA1019 Envoy reads the deprecated append field of ext_authz responses
			if o.GetAppend().GetValue() {
				res.AppendUpstreamHeaders = append(res.AppendUpstreamHeaders, h)
			} else {
				res.UpstreamHeaders = append(res.UpstreamHeaders, h)
			}
		}
		res.RemoveUpstreamHeaders = ok.GetHeadersToRemove()
		for _, q := range ok.GetQueryParametersToSet() {
			res.SetQuery = append(res.SetQuery, authz.Header{Name: q.GetKey(), Value: q.GetValue()})
		}
		res.RemoveQuery = ok.GetQueryParametersToRemove()
		for _, o := range ok.GetResponseHeadersToAdd() {
			res.DownstreamHeaders = append(res.DownstreamHeaders, authz.Header{Name: o.GetHeader().GetKey(), Value: headerValue(o.GetHeader())})
		}
		return res
	}
	denied := resp.GetDeniedResponse()
	res.Status = int(denied.GetStatus().GetCode())
	if res.Status == 0 {
		res.Status = http.StatusForbidden
	}
	res.Body = denied.GetBody()
	for _, o := range denied.GetHeaders() {
		res.DownstreamHeaders = append(res.DownstreamHeaders, authz.Header{Name: o.GetHeader().GetKey(), Value: headerValue(o.GetHeader())})
	}
	return res
}

// headerValue is the value, or raw_value for a server that sets that instead.
func headerValue(h *corev3.HeaderValue) string {
	if v := h.GetValue(); v != "" {
		return v
	}
	return string(h.GetRawValue())
}
