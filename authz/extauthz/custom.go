package extauthz

import (
	"context"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse-dev/gatehouse/authz"
)

// chainCustom asks the CUSTOM provider d names before d's own DENY/ALLOW outcome takes effect, as
// Envoy's ext_authz filter runs ahead of RBAC: the provider's denial (or error) is the answer;
// when it allows, d decides, and an allowed request carries both the provider's changes and d's.
func (s *Server) chainCustom(ctx context.Context, cr *authv3.CheckRequest, r *authz.Request, d authz.Decision) *authv3.CheckResponse {
	var body []byte
	if h := cr.GetAttributes().GetRequest().GetHttp(); h != nil {
		if raw := h.GetRawBody(); len(raw) > 0 {
			body = raw
		} else if h.GetBody() != "" {
			body = []byte(h.GetBody())
		}
	}
	pr := s.custom(ctx, d.CustomProvider, r, body)
	if pr.GetStatus().GetCode() != 0 {
		s.log.DebugContext(ctx, "ext_authz: CUSTOM provider denied", "provider", d.CustomProvider, "policy", d.CustomPolicy,
			"status", pr.GetDeniedResponse().GetStatus().GetCode())
		return pr
	}
	resp := checkResponse(d)
	ok, pok := resp.GetOkResponse(), pr.GetOkResponse()
	if ok == nil || pok == nil {
		return resp
	}
	// Envoy's jwt_authn filter writes its output headers before ext_authz writes the provider's:
	// applied in order, the provider's come last and win.
	ok.Headers = append(ok.GetHeaders(), pok.GetHeaders()...)
	ok.HeadersToRemove = append(ok.GetHeadersToRemove(), pok.GetHeadersToRemove()...)
	ok.QueryParametersToSet = pok.GetQueryParametersToSet()
	ok.QueryParametersToRemove = pok.GetQueryParametersToRemove()
	ok.ResponseHeadersToAdd = pok.GetResponseHeadersToAdd()
	if md := pr.GetDynamicMetadata(); md != nil {
		for k, v := range md.GetFields() {
			if _, taken := resp.DynamicMetadata.Fields[k]; !taken {
				resp.DynamicMetadata.Fields[k] = v
			}
		}
	}
	return resp
}
