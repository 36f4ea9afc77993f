package gateway

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// extAuthzServer is an envoyExtAuthzGrpc provider on loopback, answering by path: /ext/deny*
// denies with its own status, body and headers, /ext/slow* never answers before the caller gives
// up, anything else is allowed with request and response headers.
type extAuthzServer struct {
	authv3.UnimplementedAuthorizationServer
	calls atomic.Int64
}

func (s *extAuthzServer) Check(ctx context.Context, cr *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	s.calls.Add(1)
	path := cr.GetAttributes().GetRequest().GetHttp().GetPath()
	switch {
	case strings.HasPrefix(path, "/ext/deny"):
		return &authv3.CheckResponse{
			Status: &rpcstatus.Status{Code: int32(codes.PermissionDenied)},
			HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
				Status:  &typev3.HttpStatus{Code: typev3.StatusCode_Unauthorized},
				Body:    "grpc provider says no",
				Headers: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-reason", Value: "denied-by-grpc"}}},
			}},
		}, nil
	case strings.HasPrefix(path, "/ext/slow"):
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			Headers:              []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-user", Value: "bob"}}},
			HeadersToRemove:      []string{"x-drop"},
			ResponseHeadersToAdd: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-session", Value: "s1"}}},
		}},
	}, nil
}

// serveExtAuthz serves s on loopback until the test ends and returns its port.
func serveExtAuthz(t *testing.T, s authv3.AuthorizationServer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	authv3.RegisterAuthorizationServer(g, s)
	go func() { _ = g.Serve(ln) }()
	t.Cleanup(g.Stop)
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p
}

// headerEcho is an upstream that reports the request headers a provider may change, and sets a
// response header a provider's response_headers_to_add must override.
func headerEcho(t *testing.T, hits *atomic.Int64) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("X-Seen-User", strings.Join(r.Header.Values("X-User"), ","))
		w.Header().Set("X-Seen-Drop", r.Header.Get("X-Drop"))
		w.Header().Set("X-Session", "from-upstream")
		_, _ = io.WriteString(w, "backend")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestAuthzCustomGRPCProvider: an envoyExtAuthzGrpc service is asked only for the paths the
// CUSTOM rule matches; its ok_response changes the request the upstream sees and the response
// the client sees, and its denied_response is the client's reply, as Envoy's ext_authz filter
// applies them.
func TestAuthzCustomGRPCProvider(t *testing.T) {
	t.Parallel()
	auth := &extAuthzServer{}
	authPort := serveExtAuthz(t, auth)
	var hits atomic.Int64
	app := headerEcho(t, &hits)
	g := startCustomGateway(t, edgeGateway, staticEntry("app", "app.internal", port(t, app)), routeAllToApp, customOnExt,
		customMesh("    - name: ext\n      envoyExtAuthzGrpc: {service: 127.0.0.1, port: "+authPort+"}\n"))
	addr := g.addr(t, 80)

	t.Run("path no CUSTOM rule matches", func(t *testing.T) {
		res, body := rawGet(t, addr, "/other", "X-User", "mallory")
		if res.StatusCode != 200 || body != "backend" || res.Header.Get("X-Seen-User") != "mallory" || res.Header.Get("X-Session") != "from-upstream" {
			t.Errorf("%d %q %v: want the upstream's own reply", res.StatusCode, body, res.Header)
		}
		if n := auth.calls.Load(); n != 0 {
			t.Errorf("provider asked %d times, want never", n)
		}
	})
	t.Run("allowed", func(t *testing.T) {
		res, body := rawGet(t, addr, "/ext/ok", "X-User", "mallory", "X-Drop", "secret")
		if res.StatusCode != 200 || body != "backend" {
			t.Fatalf("%d %q, want 200 from the upstream", res.StatusCode, body)
		}
		// ok_response headers overwrite (append false), headers_to_remove go, and
		// response_headers_to_add override the upstream's value.
		if got := res.Header.Get("X-Seen-User"); got != "bob" {
			t.Errorf("upstream saw x-user %q, want bob alone", got)
		}
		if got := res.Header.Get("X-Seen-Drop"); got != "" {
			t.Errorf("upstream saw x-drop %q, want it removed", got)
		}
		if got := res.Header.Values("X-Session"); len(got) != 1 || got[0] != "s1" {
			t.Errorf("client got x-session %q, want [s1]", got)
		}
	})
	t.Run("denied", func(t *testing.T) {
		before := hits.Load()
		res, body := rawGet(t, addr, "/ext/deny")
		if res.StatusCode != 401 || body != "grpc provider says no" || res.Header.Get("X-Reason") != "denied-by-grpc" {
			t.Errorf("%d %q %v: want the provider's 401, body and x-reason", res.StatusCode, body, res.Header)
		}
		if hits.Load() != before {
			t.Error("a denied request reached the upstream")
		}
	})
	if n := auth.calls.Load(); n != 2 {
		t.Errorf("provider asked %d times, want 2 (the /ext/ paths only)", n)
	}
}

// TestAuthzCustomProviderSlow: a provider that does not answer within its timeout is an
// ext_authz error, as Envoy treats a timed-out check: denied with statusOnError (403 by default)
// and no body, unless failOpen lets the request through to the upstream.
func TestAuthzCustomProviderSlow(t *testing.T) {
	t.Parallel()
	grpcPort := serveExtAuthz(t, &extAuthzServer{})
	slowHTTP := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(slowHTTP.Close)
	httpPort := port(t, slowHTTP)
	var hits atomic.Int64
	app := headerEcho(t, &hits)
	for _, tc := range []struct {
		name, kind, port, fields string
		status                   int
	}{
		{"grpc closed default", "envoyExtAuthzGrpc", grpcPort, ``, 403},
		{"grpc closed statusOnError", "envoyExtAuthzGrpc", grpcPort, `statusOnError: "503"`, 503},
		{"grpc open", "envoyExtAuthzGrpc", grpcPort, `failOpen: true`, 200},
		{"http closed default", "envoyExtAuthzHttp", httpPort, ``, 403},
		{"http closed statusOnError", "envoyExtAuthzHttp", httpPort, `statusOnError: "503"`, 503},
		{"http open", "envoyExtAuthzHttp", httpPort, `failOpen: true`, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := startCustomGateway(t, edgeGateway, staticEntry("app", "app.internal", port(t, app)), routeAllToApp, customOnExt,
				customMesh("    - name: ext\n      "+tc.kind+": {service: 127.0.0.1, port: "+tc.port+", timeout: 0.2s, "+tc.fields+"}\n"))
			res, body := rawGet(t, g.addr(t, 80), "/ext/slow")
			switch {
			case res.StatusCode != tc.status:
				t.Errorf("slow provider: %d %q, want %d", res.StatusCode, body, tc.status)
			case tc.status == 200 && body != "backend":
				t.Errorf("failOpen: body %q, want the upstream's", body)
			case tc.status != 200 && body != "":
				t.Errorf("timed out: body %q, want none (Envoy's ext_authz error reply is empty)", body)
			}
		})
	}
}
