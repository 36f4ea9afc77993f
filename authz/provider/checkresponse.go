package provider

import (
	"context"
	"net/http"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse-dev/gatehouse/authz"
)

// CheckResponse asks the named provider of s about r and renders the answer as the CheckResponse
// an ext_authz server returns: OK with the provider's request and response changes, or the
// provider's denial. A provider s does not hold denies with 403, as a CUSTOM rule whose provider
// is unusable does. The gRPC ext_authz server chains it ahead of its own DENY/ALLOW decision.
func (s *Set) CheckResponse(ctx context.Context, name string, r *authz.Request, body []byte) (*authv3.CheckResponse, Result) {
	p, ok := s.Lookup(name)
	if !ok {
		res := Result{Status: http.StatusForbidden}
		return Render(res), res
	}
	res := p.Check(ctx, r, body)
	return Render(res), res
}

// Render is res as a CheckResponse.
func Render(res Result) *authv3.CheckResponse {
	resp := &authv3.CheckResponse{Status: &rpcstatus.Status{}}
	if len(res.DynamicMetadata) > 0 {
		if st, err := structpb.NewStruct(res.DynamicMetadata); err == nil {
			resp.DynamicMetadata = st
		}
	}
	if res.Allowed {
		ok := &authv3.OkHttpResponse{
			HeadersToRemove:         res.RemoveUpstreamHeaders,
			QueryParametersToRemove: res.RemoveQuery,
			ResponseHeadersToAdd:    headerOptions(res.DownstreamHeaders, false),
		}
		ok.Headers = append(headerOptions(res.UpstreamHeaders, false), headerOptions(res.AppendUpstreamHeaders, true)...)
		for _, q := range res.SetQuery {
			ok.QueryParametersToSet = append(ok.QueryParametersToSet, &corev3.QueryParameter{Key: q.Name, Value: q.Value})
		}
		resp.HttpResponse = &authv3.CheckResponse_OkResponse{OkResponse: ok}
		return resp
	}
	status := res.Status
	if status == 0 {
		status = http.StatusForbidden
	}
	resp.Status.Code = int32(codes.PermissionDenied)
	if res.Err != nil {
		resp.Status.Code = int32(codes.Unavailable)
	}
	resp.HttpResponse = &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
		Status:  &typev3.HttpStatus{Code: typev3.StatusCode(status)},
		Headers: headerOptions(res.DownstreamHeaders, true),
		Body:    res.Body,
	}}
	return resp
}

func headerOptions(hs []authz.Header, appendValue bool) []*corev3.HeaderValueOption {
	if len(hs) == 0 {
		return nil
	}
	out := make([]*corev3.HeaderValueOption, len(hs))
	for i, h := range hs {
		action := corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
		if appendValue {
			action = corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD
		}
		out[i] = &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: h.Name, Value: h.Value},
			AppendAction: action,
		}
	}
	return out
}
