package extauthz

import (
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse-dev/gatehouse/authz"
)

// checkRequest maps a CheckRequest to an authz.Request, or to the denial a malformed one gets.
func (s *Server) checkRequest(cr *authv3.CheckRequest) (*authz.Request, *authz.Decision) {
	attrs := cr.GetAttributes()
	st := s.settings.Load()
	r := &authz.Request{
		Source:          socketAddr(attrs.GetSource().GetAddress()),
		Destination:     socketAddr(attrs.GetDestination().GetAddress()),
		SourcePrincipal: peerPrincipal(attrs.GetSource()),
		SNI:             attrs.GetTlsSession().GetSni(),
		FilterMetadata:  filterMetadata(attrs.GetMetadataContext()),
	}
	if h := attrs.GetRequest().GetHttp(); h != nil {
		r.HTTP = true
		r.Method = h.GetMethod()
		r.Scheme = h.GetScheme()
		r.Header = requestHeaders(h)
		r.Host = h.GetHost()
		if r.Host == "" {
			r.Host = r.Header.Get(":authority")
		}
		target := h.GetPath()
		if target == "" {
			target = r.Header.Get(":path")
		}
		for _, k := range []string{":authority", ":path", ":method", ":scheme"} {
			delete(r.Header, k)
		}
		var err error
		if r.Path, r.RawQuery, err = st.splitPath(target); err != nil {
			return nil, &authz.Decision{Status: http.StatusBadRequest, Reason: err.Error()}
		}
	}
	r.RemoteIP = st.remoteIP(r.Source.Addr(), r.Header["X-Forwarded-For"])

	ext := attrs.GetContextExtensions()
	ref := workloadRef{namespace: ext[ExtNamespace], labels: ext[ExtLabels], services: ext[ExtServices]}
	w, err := s.workloads.resolve(ref, attrs.GetDestination().GetPrincipal())
	if err != nil {
		return nil, &authz.Decision{Status: http.StatusForbidden, Reason: "context_extensions: " + err.Error()}
	}
	r.Workload = w
	return r, nil
}

// requestHeaders turns Envoy's lower-case header map (or header_map, with encode_raw_headers) into
// canonical net/http form. Pseudo-headers keep their ':' names.
func requestHeaders(h *authv3.AttributeContext_HttpRequest) http.Header {
	out := make(http.Header, len(h.GetHeaders()))
	for k, v := range h.GetHeaders() {
		out[canonicalKey(k)] = []string{v}
	}
	for _, hv := range h.GetHeaderMap().GetHeaders() {
		v := hv.GetValue()
		if raw := hv.GetRawValue(); raw != nil {
			v = string(raw)
		}
		k := canonicalKey(hv.GetKey())
		out[k] = append(out[k], v)
	}
	return out
}

func canonicalKey(k string) string {
	if strings.HasPrefix(k, ":") {
		return k
	}
	return http.CanonicalHeaderKey(k)
}

// socketAddr reads an Envoy socket address; anything else (a pipe) is the zero address.
func socketAddr(a *corev3.Address) netip.AddrPort {
	sa := a.GetSocketAddress()
	if sa == nil {
		return netip.AddrPort{}
	}
	ip, err := netip.ParseAddr(sa.GetAddress())
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(sa.GetPortValue()))
}

// peerPrincipal is the peer's SPIFFE ID without "spiffe://". Envoy sets principal to the first
// URI SAN, else a DNS SAN or the subject, which are no SPIFFE identity and so no principal.
func peerPrincipal(p *authv3.AttributeContext_Peer) string {
	if id, ok := strings.CutPrefix(p.GetPrincipal(), "spiffe://"); ok {
		return id
	}
	if p.GetPrincipal() != "" || p.GetCertificate() == "" {
		return ""
	}
	return certificatePrincipal(p.GetCertificate())
}

// certificatePrincipal reads the SPIFFE URI SAN of a URL-encoded PEM certificate, as Envoy's
// include_peer_certificate sends it.
func certificatePrincipal(encoded string) string {
	pemText, err := url.QueryUnescape(encoded)
	if err != nil {
		return ""
	}
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return ""
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return ""
	}
	for _, u := range cert.URIs {
		if u.Scheme == "spiffe" {
			return strings.TrimPrefix(u.String(), "spiffe://")
		}
	}
	return ""
}

// filterMetadata turns metadata_context.filter_metadata into the engine's form: strings stay
// strings, lists become []any.
func filterMetadata(md *corev3.Metadata) map[string]map[string]any {
	fm := md.GetFilterMetadata()
	if len(fm) == 0 {
		return nil
	}
	out := make(map[string]map[string]any, len(fm))
	for filter, st := range fm {
		vals := make(map[string]any, len(st.GetFields()))
		for k, v := range st.GetFields() {
			vals[k] = metadataValue(v)
		}
		out[filter] = vals
	}
	return out
}

func metadataValue(v *structpb.Value) any {
	if l := v.GetListValue(); l != nil {
		out := make([]any, 0, len(l.GetValues()))
		for _, e := range l.GetValues() {
			out = append(out, metadataValue(e))
		}
		return out
	}
	return v.AsInterface()
}
