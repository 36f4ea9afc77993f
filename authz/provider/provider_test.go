package provider

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	meshconfig "istio.io/api/mesh/v1alpha1"

	"github.com/gatehouse-dev/gatehouse/authz"
)

func mesh(t *testing.T, js string) *meshconfig.MeshConfig {
	t.Helper()
	m := &meshconfig.MeshConfig{}
	if err := protojson.Unmarshal([]byte(js), m); err != nil {
		t.Fatalf("mesh: %v", err)
	}
	return m
}

func TestCompileFields(t *testing.T) {
	t.Parallel()
	m := mesh(t, `{"extensionProviders": [
	  {"name": "h", "envoyExtAuthzHttp": {"service": "foo/authz.foo.svc.cluster.local", "port": 8000,
	    "timeout": "2s", "failOpen": true, "statusOnError": "503", "pathPrefix": "/check",
	    "includeRequestHeadersInCheck": ["x-ext-*", "*-id", "Cookie"],
	    "includeAdditionalHeadersInCheck": {"X-B": "2", "x-a": "1"},
	    "includeRequestBodyInCheck": {"maxRequestBytes": 10, "allowPartialMessage": true},
	    "headersToUpstreamOnAllow": ["x-user"], "headersToDownstreamOnDeny": ["x-reason"],
	    "headersToDownstreamOnAllow": ["set-cookie"]}},
	  {"name": "g", "envoyExtAuthzGrpc": {"service": "authz.example.com", "port": 9000}},
	  {"name": "old", "envoyExtAuthzHttp": {"service": "a", "port": 1, "includeHeadersInCheck": ["x-old"]}},
	  {"name": "zipkin", "zipkin": {"service": "z", "port": 9411}}
	]}`)
	var resolved []string
	set, errs := Compile(m, Options{Resolve: func(ns, host string, port uint32) (string, error) {
		resolved = append(resolved, ns+"|"+host)
		return "127.0.0.1:1", nil
	}})
	if len(errs) != 0 {
		t.Fatalf("errs: %v", errs)
	}
	if got := strings.Join(set.Names(), ","); got != "g,h,old" {
		t.Fatalf("names %q", got)
	}
	if strings.Join(resolved, ",") != "foo|authz.foo.svc.cluster.local,|authz.example.com,|a" {
		t.Errorf("resolved %v", resolved)
	}
	p, _ := set.Lookup("h")
	h := p.(*httpProvider).s
	if h.timeout != 2*time.Second || !h.failOpen || h.statusOnError != 503 || h.pathPrefix != "/check" ||
		h.maxBody != 10 || !h.allowPartial || h.addr != "127.0.0.1:1" {
		t.Errorf("http settings %+v", h)
	}
	for name, want := range map[string]bool{"x-ext-a": true, "req-id": true, "cookie": true, "x-other": false} {
		if h.requestHeaders.matches(name) != want {
			t.Errorf("includeRequestHeadersInCheck matches %q: %v", name, !want)
		}
	}
	if len(h.additional) != 2 || h.additional[0] != (authz.Header{Name: "x-a", Value: "1"}) || h.additional[1].Name != "x-b" {
		t.Errorf("additional %v", h.additional)
	}
	g, _ := set.Lookup("g")
	if gs := g.(*grpcProvider).s; gs.timeout != DefaultTimeout || gs.failOpen || gs.statusOnError != 403 || gs.maxBody != 0 {
		t.Errorf("grpc defaults %+v", gs)
	}
	o, _ := set.Lookup("old")
	if !o.(*httpProvider).s.requestHeaders.matches("x-old") {
		t.Error("deprecated includeHeadersInCheck not honoured")
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, provider, want string }{
		{"port", `"envoyExtAuthzGrpc": {"service": "a", "port": 0}`, "port: must be in the range"},
		{"service", `"envoyExtAuthzGrpc": {"port": 1}`, "service: must not be empty"},
		{"status", `"envoyExtAuthzGrpc": {"service": "a", "port": 1, "statusOnError": "abc"}`, "statusOnError"},
		{"status code", `"envoyExtAuthzGrpc": {"service": "a", "port": 1, "statusOnError": "299"}`, "unsupported status"},
		{"prefix", `"envoyExtAuthzHttp": {"service": "a", "port": 1, "pathPrefix": "check"}`, "must begin with"},
		{"wildcard", `"envoyExtAuthzHttp": {"service": "a", "port": 1, "headersToUpstreamOnAllow": ["*"]}`, "headersToUpstreamOnAllow[0]: a single wildcard"},
		{"body", `"envoyExtAuthzHttp": {"service": "a", "port": 1, "includeRequestBodyInCheck": {}}`, "maxRequestBytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			set, errs := Compile(mesh(t, `{"extensionProviders": [{"name": "p", `+tc.provider+`}, {"name": "ok", "envoyExtAuthzGrpc": {"service": "a", "port": 1}}]}`), Options{})
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) || !strings.Contains(errs[0].Error(), "extensionProviders[0] (p)") {
				t.Fatalf("errs %v, want one with %q", errs, tc.want)
			}
			if set.Has("p") || !set.Has("ok") {
				t.Errorf("names %v, want only ok", set.Names())
			}
		})
	}
}

func TestCompileReusesUnchanged(t *testing.T) {
	t.Parallel()
	m := mesh(t, `{"extensionProviders": [{"name": "a", "envoyExtAuthzGrpc": {"service": "a", "port": 1}}, {"name": "b", "envoyExtAuthzHttp": {"service": "b", "port": 1}}]}`)
	first, _ := Compile(m, Options{})
	m.ExtensionProviders[1].GetEnvoyExtAuthzHttp().Port = 2
	second, _ := Compile(m, Options{Previous: first})
	a1, _ := first.Lookup("a")
	a2, _ := second.Lookup("a")
	b1, _ := first.Lookup("b")
	b2, _ := second.Lookup("b")
	if a1 != a2 || b1 == b2 {
		t.Errorf("reuse: a kept %v, b kept %v; want a kept only", a1 == a2, b1 == b2)
	}
}

// authServer is an envoyExtAuthzHttp test service: "/check/deny*" denies, "/check/boom" fails,
// "/check/slow" waits for the client to give up; everything else is allowed.
func authServer(t *testing.T, calls *atomic.Int64, seen chan<- *http.Request) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		if seen != nil {
			seen <- r
		}
		switch {
		case strings.HasPrefix(r.URL.Path, "/check/deny"):
			w.Header().Set("X-Reason", "nope")
			w.Header().Set("X-Internal", "secret")
			w.Header().Set("WWW-Authenticate", "Bearer")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, "denied by ext")
		case r.URL.Path == "/check/boom":
			w.WriteHeader(http.StatusBadGateway)
		case r.URL.Path == "/check/slow":
			<-r.Context().Done()
		default:
			w.Header().Set("X-User", "alice")
			w.Header().Set("X-Not-Allowed", "1")
			w.Header().Set("Set-Cookie", "s=1")
			w.Header().Set("X-Envoy-Auth-Headers-To-Remove", "x-drop, x-drop2")
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func httpProviderFor(t *testing.T, srv *httptest.Server, extra string) Provider {
	t.Helper()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	set, errs := Compile(mesh(t, `{"extensionProviders": [{"name": "h", "envoyExtAuthzHttp": {"service": "127.0.0.1", "port": `+port+`,
	  "pathPrefix": "/check", "includeRequestHeadersInCheck": ["x-ext-*"], "includeAdditionalHeadersInCheck": {"x-fixed": "v"},
	  "headersToUpstreamOnAllow": ["x-user"], "headersToDownstreamOnDeny": ["x-reason"], "headersToDownstreamOnAllow": ["set-cookie"]`+extra+`}}]}`), Options{})
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	p, _ := set.Lookup("h")
	return p
}

func request(path string) *authz.Request {
	return &authz.Request{HTTP: true, Method: "POST", Host: "app.example.com", Path: path, RawQuery: "a=1",
		Header: http.Header{"Authorization": {"Bearer t"}, "X-Ext-Id": {"7"}, "Cookie": {"c=1"}, "X-Fixed": {"client"}}}
}

func TestHTTPProvider(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	seen := make(chan *http.Request, 1)
	srv := authServer(t, &calls, seen)
	p := httpProviderFor(t, srv, `, "includeRequestBodyInCheck": {"maxRequestBytes": 4, "allowPartialMessage": true}`)

	res := p.Check(t.Context(), request("/ok"), []byte("hello"))
	r := <-seen
	if r.Method != "POST" || r.URL.RequestURI() != "/check/ok?a=1" || r.Host != "app.example.com" {
		t.Errorf("auth request line %s %s host %s", r.Method, r.URL.RequestURI(), r.Host)
	}
	if r.Header.Get("Authorization") != "Bearer t" || r.Header.Get("X-Ext-Id") != "7" || r.Header.Get("Cookie") != "" ||
		r.Header.Get("X-Fixed") != "v" || r.Header.Get("X-Envoy-Auth-Partial-Body") != "true" {
		t.Errorf("auth request headers %v", r.Header)
	}
	if b, _ := io.ReadAll(r.Body); string(b) != "hell" || r.ContentLength != 4 {
		t.Errorf("auth request body %q (%d), want the first 4 bytes", b, r.ContentLength)
	}
	if !res.Allowed || res.Err != nil || len(res.UpstreamHeaders) != 1 || res.UpstreamHeaders[0] != (authz.Header{Name: "X-User", Value: "alice"}) ||
		len(res.DownstreamHeaders) != 1 || res.DownstreamHeaders[0].Value != "s=1" || strings.Join(res.RemoveUpstreamHeaders, ",") != "x-drop,x-drop2" {
		t.Errorf("allowed result %+v", res)
	}

	res = p.Check(t.Context(), request("/deny"), nil)
	<-seen
	if res.Allowed || res.Err != nil || res.Status != 401 || res.Body != "denied by ext" {
		t.Errorf("denied result %+v", res)
	}
	got := map[string]string{}
	for _, h := range res.DownstreamHeaders {
		got[strings.ToLower(h.Name)] = h.Value
	}
	if got["x-reason"] != "nope" || got["www-authenticate"] != "Bearer" || got["x-internal"] != "" {
		t.Errorf("denied headers %v: want x-reason and www-authenticate only", got)
	}
}

func TestHTTPProviderFailures(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	srv := authServer(t, &calls, nil)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	for _, tc := range []struct {
		name, extra, path string
		srv               *httptest.Server
		allowed           bool
		status            int
	}{
		{"5xx closed", ``, "/boom", srv, false, 403},
		{"5xx open", `, "failOpen": true`, "/boom", srv, true, 200},
		{"timeout statusOnError", `, "timeout": "0.05s", "statusOnError": "504"`, "/slow", srv, false, 504},
		{"timeout open", `, "timeout": "0.05s", "failOpen": true`, "/slow", srv, true, 200},
		{"down closed", `, "statusOnError": "503"`, "/ok", down, false, 503},
		{"down open", `, "failOpen": true`, "/ok", down, true, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := httpProviderFor(t, tc.srv, tc.extra).Check(context.Background(), request(tc.path), nil)
			if res.Allowed != tc.allowed || res.Status != tc.status || res.Err == nil || res.Body != "" {
				t.Errorf("result %+v, want allowed %v status %d with an error", res, tc.allowed, tc.status)
			}
		})
	}
}

// grpcAuth is an envoyExtAuthzGrpc test service answering per path, as the HTTP one does.
type grpcAuth struct {
	authv3.UnimplementedAuthorizationServer
	calls atomic.Int64
	last  atomic.Pointer[authv3.CheckRequest]
}

func (g *grpcAuth) Check(ctx context.Context, cr *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	g.calls.Add(1)
	g.last.Store(cr)
	path := cr.GetAttributes().GetRequest().GetHttp().GetPath()
	switch {
	case strings.HasPrefix(path, "/deny"):
		return &authv3.CheckResponse{Status: &rpcstatus.Status{Code: 7}, HttpResponse: &authv3.CheckResponse_DeniedResponse{
			DeniedResponse: &authv3.DeniedHttpResponse{Status: &typev3.HttpStatus{Code: 401}, Body: "grpc says no",
				Headers: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-reason", Value: "grpc"}}}}}}, nil
	case strings.HasPrefix(path, "/slow"):
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return &authv3.CheckResponse{Status: &rpcstatus.Status{}, HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
		Headers:                 []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-user", Value: "bob"}}},
		HeadersToRemove:         []string{"x-drop"},
		QueryParametersToSet:    []*corev3.QueryParameter{{Key: "added", Value: "1"}},
		QueryParametersToRemove: []string{"a"},
		ResponseHeadersToAdd:    []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-down", Value: "d"}}},
	}}}, nil
}

// StartGRPCAuth serves g on loopback and returns its port.
func startGRPCAuth(t *testing.T, g *grpcAuth) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	authv3.RegisterAuthorizationServer(s, g)
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func TestGRPCProvider(t *testing.T) {
	t.Parallel()
	srv := &grpcAuth{}
	port := startGRPCAuth(t, srv)
	set, errs := Compile(mesh(t, `{"extensionProviders": [
	  {"name": "g", "envoyExtAuthzGrpc": {"service": "127.0.0.1", "port": `+port+`, "timeout": "1s", "includeRequestBodyInCheck": {"maxRequestBytes": 100, "packAsBytes": true}}},
	  {"name": "open", "envoyExtAuthzGrpc": {"service": "127.0.0.1", "port": `+port+`, "timeout": "1s", "failOpen": true}}]}`), Options{})
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	t.Cleanup(func() { set.Retire(nil) })
	p, _ := set.Lookup("g")
	res := p.Check(t.Context(), request("/ok"), []byte("body"))
	cr := srv.last.Load()
	if h := cr.GetAttributes().GetRequest().GetHttp(); string(h.GetRawBody()) != "body" || h.GetHeaders()["x-envoy-auth-partial-body"] != "false" ||
		h.GetHeaders()["authorization"] != "Bearer t" || len(cr.GetAttributes().GetContextExtensions()) != 0 {
		t.Errorf("check request %v", cr)
	}
	if !res.Allowed || res.UpstreamHeaders[0].Value != "bob" || res.RemoveUpstreamHeaders[0] != "x-drop" || res.SetQuery[0].Name != "added" ||
		res.RemoveQuery[0] != "a" || res.DownstreamHeaders[0].Name != "x-down" {
		t.Errorf("allowed %+v", res)
	}
	res = p.Check(t.Context(), request("/deny"), nil)
	if res.Allowed || res.Err != nil || res.Status != 401 || res.Body != "grpc says no" || res.DownstreamHeaders[0].Value != "grpc" {
		t.Errorf("denied %+v", res)
	}
	if res = p.Check(t.Context(), request("/slow"), nil); res.Allowed || res.Err == nil || res.Status != 403 {
		t.Errorf("timeout %+v, want a 403 error", res)
	}
	open, _ := set.Lookup("open")
	if res = open.Check(t.Context(), request("/slow"), nil); !res.Allowed || res.Err == nil {
		t.Errorf("timeout with failOpen %+v, want allowed with an error", res)
	}
}
