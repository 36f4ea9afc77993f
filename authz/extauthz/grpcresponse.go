package extauthz

import (
	"net/http"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse-dev/gatehouse/authz"
)

// Keys of the dynamic_metadata a CheckResponse carries (see the package documentation).
const (
	MetaDecision         = "decision"
	MetaStatus           = "status"
	MetaReason           = "reason"
	MetaPolicy           = "policy"
	MetaRequestPrincipal = "request_principal"
	MetaAuditPolicy      = "audit_policy"
	MetaShadowResult     = "shadow_engine_result"
	MetaShadowPolicy     = "shadow_effective_policy_id"
)

// checkResponse renders a Decision as Envoy's CheckResponse.
func checkResponse(d authz.Decision) *authv3.CheckResponse {
	resp := &authv3.CheckResponse{
		Status:          &rpcstatus.Status{Code: int32(grpcCode(d))},
		DynamicMetadata: dynamicMetadata(d),
	}
	if d.Allowed {
		resp.HttpResponse = &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			Headers:         headerOptions(d.SetHeaders),
			HeadersToRemove: d.RemoveHeaders,
		}}
		return resp
	}
	resp.Status.Message = d.Reason
	resp.HttpResponse = &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
		Status:  &typev3.HttpStatus{Code: typev3.StatusCode(d.Status)},
		Headers: headerOptions(d.ResponseHeaders),
		Body:    d.Reason,
	}}
	return resp
}

// grpcCode is the CheckResponse status. Envoy reads only OK or not OK; the code says why, for
// logs and for callers other than Envoy.
func grpcCode(d authz.Decision) codes.Code {
	switch {
	case d.Allowed:
		return codes.OK
	case d.Status == http.StatusUnauthorized:
		return codes.Unauthenticated
	case d.Status == http.StatusBadRequest:
		return codes.InvalidArgument
	case d.Status >= 500:
		return codes.Unavailable
	}
	return codes.PermissionDenied
}

// headerOptions overwrite (or add) each header, as a JWT's output headers replace whatever the
// client sent under that name.
func headerOptions(hs []authz.Header) []*corev3.HeaderValueOption {
	if len(hs) == 0 {
		return nil
	}
	out := make([]*corev3.HeaderValueOption, len(hs))
	for i, h := range hs {
		out[i] = &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: h.Name, Value: h.Value},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		}
	}
	return out
}

func dynamicMetadata(d authz.Decision) *structpb.Struct {
	decision := "deny"
	if d.Allowed {
		decision = "allow"
	}
	f := map[string]*structpb.Value{
		MetaDecision: structpb.NewStringValue(decision),
		MetaStatus:   structpb.NewNumberValue(float64(d.Status)),
	}
	if !d.Allowed && d.Reason != "" {
		f[MetaReason] = structpb.NewStringValue(d.Reason)
	}
	if d.Policy != "" {
		f[MetaPolicy] = structpb.NewStringValue(d.Policy)
	}
	if d.Identity != nil {
		f[MetaRequestPrincipal] = structpb.NewStringValue(d.Identity.Principal())
	}
	if d.Audited {
		f[MetaAuditPolicy] = structpb.NewStringValue(d.AuditPolicy)
	}
	if d.DryRun.Evaluated {
		result := "denied"
		if d.DryRun.Allowed {
			result = "allowed"
		}
		f[MetaShadowResult] = structpb.NewStringValue(result)
		if d.DryRun.Policy != "" {
			f[MetaShadowPolicy] = structpb.NewStringValue(d.DryRun.Policy)
		}
	}
	return &structpb.Struct{Fields: f}
}
