package opa

import (
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/util"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gatehouse-dev/gatehouse/authz"
)

// This file is the reference the provider is held to: it builds the input the way
// opa-envoy-plugin does (the CheckRequest Envoy sends, protojson-marshalled, unmarshalled into a
// map, with the derived fields added), written from the plugin's documented behaviour.

// envoyCheckRequest is the CheckRequest Envoy's ext_authz filter sends for r.
func envoyCheckRequest(r *authz.Request, body []byte, now time.Time, ext map[string]string) *authv3.CheckRequest {
	sock := func(ap string, port uint16) *corev3.Address {
		return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: ap, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(port)},
		}}}
	}
	target := r.Path
	if r.RawQuery != "" {
		target += "?" + r.RawQuery
	}
	hdrs := map[string]string{":authority": r.Host, ":method": r.Method, ":path": target, ":scheme": r.Scheme}
	for k, vs := range r.Header {
		hdrs[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	attrs := &authv3.AttributeContext{
		Source:      &authv3.AttributeContext_Peer{Address: sock(r.Source.Addr().String(), r.Source.Port())},
		Destination: &authv3.AttributeContext_Peer{Address: sock(r.Destination.Addr().String(), r.Destination.Port())},
		Request: &authv3.AttributeContext_Request{
			Time: timestamppb.New(now),
			Http: &authv3.AttributeContext_HttpRequest{
				Method: r.Method, Headers: hdrs, Path: target, Host: r.Host, Scheme: r.Scheme,
				Size: -1, Body: string(body),
			},
		},
		ContextExtensions: ext,
	}
	if r.SourcePrincipal != "" {
		attrs.Source.Principal = "spiffe://" + r.SourcePrincipal
	}
	if r.SNI != "" {
		attrs.TlsSession = &authv3.AttributeContext_TLSSession{Sni: r.SNI}
	}
	if len(r.FilterMetadata) > 0 {
		md := &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{}}
		for f, vals := range r.FilterMetadata {
			st, err := structpb.NewStruct(vals)
			if err != nil {
				panic(err)
			}
			md.FilterMetadata[f] = st
		}
		attrs.MetadataContext = md
	}
	return &authv3.CheckRequest{Attributes: attrs}
}

// pluginInput converts a CheckRequest to an input document as opa-envoy-plugin does per request.
func pluginInput(tb testing.TB, cr *authv3.CheckRequest) map[string]any {
	bs, err := protojson.Marshal(cr)
	if err != nil {
		tb.Fatal(err)
	}
	var input map[string]any
	if err := util.UnmarshalJSON(bs, &input); err != nil {
		tb.Fatal(err)
	}
	h := cr.GetAttributes().GetRequest().GetHttp()
	input["version"] = map[string]any{"ext_authz": "v3", "encoding": "protojson"}
	u, err := url.Parse(h.GetPath())
	if err != nil {
		tb.Fatal(err)
	}
	var segs []any
	for _, s := range strings.Split(strings.TrimLeft(u.Path, "/"), "/") {
		segs = append(segs, s)
	}
	input["parsed_path"] = segs
	q := map[string]any{}
	for k, vs := range u.Query() {
		l := make([]any, len(vs))
		for i, v := range vs {
			l[i] = v
		}
		q[k] = l
	}
	input["parsed_query"] = q
	input["parsed_body"], input["truncated_body"] = pluginBody(tb, h.GetHeaders(), h.GetBody())
	return input
}

func pluginBody(tb testing.TB, hdrs map[string]string, body string) (any, bool) {
	ct, ok := hdrs["content-type"]
	if !ok || body == "" {
		return nil, false
	}
	if cl, ok := hdrs["content-length"]; ok {
		if n, _ := strconv.Atoi(cl); n > len(body) {
			return nil, true
		}
	}
	switch {
	case strings.Contains(ct, "application/json"):
		var x any
		if err := util.UnmarshalJSON([]byte(body), &x); err != nil {
			tb.Fatal(err)
		}
		return x, false
	case strings.Contains(ct, "application/x-www-form-urlencoded"):
		vals, _ := url.ParseQuery(body)
		out := map[string]any{}
		for k, vs := range vals {
			l := make([]any, len(vs))
			for i, v := range vs {
				l[i] = v
			}
			out[k] = l
		}
		return out, false
	case strings.Contains(ct, "multipart/form-data"):
		_, params, _ := mime.ParseMediaType(ct)
		mr := multipart.NewReader(strings.NewReader(body), params["boundary"])
		out := map[string]any{}
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			data, _ := io.ReadAll(p)
			l, _ := out[p.FormName()].([]any)
			out[p.FormName()] = append(l, string(data))
		}
		return out, false
	}
	return nil, false
}

func TestInputMatchesPluginStyle(t *testing.T) {
	t.Parallel()
	jwtReq := request("GET", "/books/42", "tag=a&tag=b&q=x%20y", "Authorization", "Bearer abc", "Accept", "text/html", "Accept", "application/json")
	tlsReq := request("POST", "/a%20b/c", "", "Content-Type", "application/json", "Content-Length", "13")
	tlsReq.SNI = "books.example.com"
	tlsReq.FilterMetadata = map[string]map[string]any{"envoy.filters.http.jwt_authn": {"iss": "https://issuer", "groups": []any{"a", "b"}}}
	tests := []struct {
		name string
		req  *authz.Request
		body string
		ext  map[string]string
	}{
		{name: "query and repeated headers", req: jwtReq},
		{name: "json body, sni and metadata", req: tlsReq, body: `{"n": 1.5}`, ext: map[string]string{"tenant": "acme"}},
		{name: "truncated form", req: request("POST", "/", "", "Content-Type", "application/x-www-form-urlencoded", "Content-Length", "99"), body: "a=1"},
		{name: "multipart", req: request("POST", "/up", "", "Content-Type", "multipart/form-data; boundary=B"),
			body: "--B\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv1\r\n--B\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv2\r\n--B--\r\n"},
		{name: "form", req: request("POST", "/x/", "", "Content-Type", "application/x-www-form-urlencoded"), body: "a=1&a=2&b="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newProvider(t, Options{Modules: map[string]string{"p.rego": "package envoy.authz\n\nallow := true\n"}, ContextExtensions: tt.ext})
			got, err := p.input(tt.req, []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			want, err := ast.InterfaceToValue(pluginInput(t, envoyCheckRequest(tt.req, []byte(tt.body), fixedNow, tt.ext)))
			if err != nil {
				t.Fatal(err)
			}
			if got.Compare(want) != 0 {
				t.Errorf("input differs from the plugin's:\n got %v\nwant %v", got, want)
			}
		})
	}
}

// The plugin parses the path with url.Parse, which reads a leading "//x" as an authority and drops
// it from parsed_path: a policy on parsed_path[0] would then judge "//admin/users" as "/users"
// while the upstream serves /admin/users. Gatehouse splits the path the upstream receives.
func TestParsedPathKeepsDoubleSlashSegments(t *testing.T) {
	t.Parallel()
	p := newProvider(t, Options{Modules: map[string]string{"p.rego": "package envoy.authz\n\nallow := true\n"}})
	in, err := p.input(request("GET", "//admin/users", ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := in.(ast.Object).Get(keyParsedPath).Value
	if want := ast.MustParseTerm(`["admin", "users"]`).Value; got.Compare(want) != 0 {
		t.Errorf("parsed_path = %v, want %v", got, want)
	}
}
