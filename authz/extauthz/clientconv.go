package extauthz

import (
	"maps"
	"net/http"
	"net/netip"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// checkRequest builds the CheckRequest Envoy's ext_authz filter would send for r.
func (c *Client) checkRequest(r *authz.Request) *authv3.CheckRequest {
	attrs := &authv3.AttributeContext{
		Source:      &authv3.AttributeContext_Peer{Address: socketAddress(r.Source)},
		Destination: &authv3.AttributeContext_Peer{Address: socketAddress(r.Destination)},
	}
	if r.SourcePrincipal != "" {
		attrs.Source.Principal = "spiffe://" + r.SourcePrincipal
	}
	if r.SNI != "" {
		attrs.TlsSession = &authv3.AttributeContext_TLSSession{Sni: r.SNI}
	}
	if r.HTTP {
		attrs.Request = &authv3.AttributeContext_Request{Http: httpAttributes(r)}
	}
	attrs.MetadataContext = metadataContext(r.FilterMetadata)
	ext := maps.Clone(c.opts.ContextExtensions)
	if w := r.Workload; w != nil && !c.opts.OmitWorkload {
		if ext == nil {
			ext = map[string]string{}
		}
		ext[ExtNamespace] = w.Namespace
		if l := policy.FormatLabels(w.Labels); l != "" {
			ext[ExtLabels] = l
		}
		if len(w.Services) > 0 {
			ext[ExtServices] = strings.Join(w.Services, ",")
		}
	}
	attrs.ContextExtensions = ext
	return &authv3.CheckRequest{Attributes: attrs}
}

// httpAttributes are the request's HTTP attributes with Envoy's lower-case header map: several
// values of one header joined with ',', and the pseudo-headers included.
func httpAttributes(r *authz.Request) *authv3.AttributeContext_HttpRequest {
	target := r.Path
	if r.RawQuery != "" {
		target += "?" + r.RawQuery
	}
	headers := make(map[string]string, len(r.Header)+4)
	for k, vs := range r.Header {
		headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	headers[":authority"], headers[":method"], headers[":path"] = r.Host, r.Method, target
	if r.Scheme != "" {
		headers[":scheme"] = r.Scheme
	}
	return &authv3.AttributeContext_HttpRequest{
		Method: r.Method, Host: r.Host, Path: target, Scheme: r.Scheme, Headers: headers, Size: -1,
	}
}

func socketAddress(ap netip.AddrPort) *corev3.Address {
	if !ap.IsValid() {
		return nil
	}
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address:       ap.Addr().String(),
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(ap.Port())},
	}}}
}

func metadataContext(fm map[string]map[string]any) *corev3.Metadata {
	if len(fm) == 0 {
		return nil
	}
	out := &corev3.Metadata{FilterMetadata: make(map[string]*structpb.Struct, len(fm))}
	for filter, vals := range fm {
		st := &structpb.Struct{Fields: make(map[string]*structpb.Value, len(vals))}
		for k, v := range vals {
			if s, ok := v.([]string); ok {
				l := make([]any, len(s))
				for i, e := range s {
					l[i] = e
				}
				v = l
			}
			if pv, err := structpb.NewValue(v); err == nil {
				st.Fields[k] = pv
			}
		}
		out.FilterMetadata[filter] = st
	}
	return out
}

// decision reads a CheckResponse as Envoy's ext_authz filter does: OK allows with the
// ok_response's header changes; anything else denies with the denied_response's status (403 when
// unset), headers and body. The policy named in the dynamic metadata, if any, is kept.
func decision(resp *authv3.CheckResponse) authz.Decision {
	var d authz.Decision
	d.Policy = resp.GetDynamicMetadata().GetFields()[MetaPolicy].GetStringValue()
	if resp.GetStatus().GetCode() == 0 {
		ok := resp.GetOkResponse()
		d.Allowed, d.Status = true, http.StatusOK
		d.SetHeaders = headers(ok.GetHeaders())
		d.RemoveHeaders = ok.GetHeadersToRemove()
		return d
	}
	denied := resp.GetDeniedResponse()
	d.Status = int(denied.GetStatus().GetCode())
	if d.Status == 0 {
		d.Status = http.StatusForbidden
	}
	d.ResponseHeaders = headers(denied.GetHeaders())
	d.Reason = denied.GetBody()
	return d
}

func headers(opts []*corev3.HeaderValueOption) []authz.Header {
	if len(opts) == 0 {
		return nil
	}
	out := make([]authz.Header, 0, len(opts))
	for _, o := range opts {
		out = append(out, authz.Header{Name: o.GetHeader().GetKey(), Value: o.GetHeader().GetValue()})
	}
	return out
}
