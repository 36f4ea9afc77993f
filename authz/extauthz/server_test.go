package extauthz

import (
	"context"
	"net/http"
	"slices"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
)

func TestGRPCCheck(t *testing.T) {
	t.Parallel()
	sig := newSigner(t)
	_, srv := newTestEngine(t, testPolicies(sig))
	_, conn := serveGRPC(t, srv)
	client := authv3.NewAuthorizationClient(conn)
	good := sig.token(t, "https://issuer.example", "alice")

	tests := []struct {
		name   string
		req    *authv3.CheckRequest
		code   codes.Code
		status int
		policy string
	}{
		{"namespace from context_extensions allows", httpCheck("GET", "/ip", withExt("namespace", "foo")), codes.OK, 200, ""},
		{"DENY by path", httpCheck("GET", "/admin/x?q=1", withExt("namespace", "foo")), codes.PermissionDenied, 403, "ns[foo]-policy[deny-admin]-rule[0]"},
		{"path normalized before the DENY", httpCheck("GET", "/a/../admin", withExt("namespace", "foo")), codes.PermissionDenied, 403, "ns[foo]-policy[deny-admin]-rule[0]"},
		{"unnormalizable path", httpCheck("GET", "/a%zz", withExt("namespace", "foo")), codes.InvalidArgument, 400, ""},
		{"labels select the ALLOW policy", httpCheck("POST", "/ip", withExt("namespace", "foo", "labels", "app=httpbin,version=v1")), codes.PermissionDenied, 403, ""},
		{"labels select the ALLOW policy: GET", httpCheck("GET", "/ip", withExt("namespace", "foo", "labels", "app=httpbin")), codes.OK, 200, "ns[foo]-policy[httpbin-get]-rule[0]"},
		{"namespace without labels: no selector matches", httpCheck("POST", "/ip", withExt("namespace", "foo")), codes.OK, 200, ""},
		{"namespace from destination principal", httpCheck("GET", "/admin", withDestPrincipal("spiffe://cluster.local/ns/foo/sa/httpbin")), codes.PermissionDenied, 403, "ns[foo]-policy[deny-admin]-rule[0]"},
		{"labels with namespace from destination principal", httpCheck("POST", "/ip", withDestPrincipal("spiffe://cluster.local/ns/foo/sa/httpbin"), withExt("labels", "app=httpbin")), codes.PermissionDenied, 403, ""},
		{"default workload", httpCheck("GET", "/admin"), codes.OK, 200, ""},
		{"malformed labels", httpCheck("GET", "/ip", withExt("namespace", "foo", "labels", "app")), codes.PermissionDenied, 403, ""},
		{"bad JWT", httpCheck("GET", "/ip", withExt("namespace", "foo"), withHeader("authorization", "Bearer "+good+"x")), codes.Unauthenticated, 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := check(t, client, tt.req)
			if got := codes.Code(resp.GetStatus().GetCode()); got != tt.code {
				t.Fatalf("code %v (%s), want %v", got, resp.GetStatus().GetMessage(), tt.code)
			}
			md := resp.GetDynamicMetadata().GetFields()
			if got := int(md[MetaStatus].GetNumberValue()); got != tt.status {
				t.Fatalf("metadata status %d, want %d", got, tt.status)
			}
			if got := md[MetaPolicy].GetStringValue(); got != tt.policy {
				t.Fatalf("metadata policy %q, want %q", got, tt.policy)
			}
			if tt.code == codes.OK {
				if resp.GetOkResponse() == nil {
					t.Fatal("no ok_response")
				}
				return
			}
			denied := resp.GetDeniedResponse()
			if int(denied.GetStatus().GetCode()) != tt.status {
				t.Fatalf("denied status %v, want %d", denied.GetStatus(), tt.status)
			}
			if denied.GetBody() == "" {
				t.Fatal("denied without a body")
			}
		})
	}
}

func TestGRPCCheckJWT(t *testing.T) {
	t.Parallel()
	sig := newSigner(t)
	_, srv := newTestEngine(t, testPolicies(sig))
	_, conn := serveGRPC(t, srv)
	client := authv3.NewAuthorizationClient(conn)
	good := sig.token(t, "https://issuer.example", "alice")

	t.Run("bad token is 401 with www-authenticate", func(t *testing.T) {
		t.Parallel()
		resp := check(t, client, httpCheck("GET", "/ip", withExt("namespace", "foo"), withHeader("authorization", "Bearer "+good[:len(good)-4]+"AAAA")))
		denied := resp.GetDeniedResponse()
		if denied.GetStatus().GetCode() != http.StatusUnauthorized || denied.GetBody() != "Jwt verification fails" {
			t.Fatalf("denied %v %q, want 401 Jwt verification fails", denied.GetStatus(), denied.GetBody())
		}
		if !slices.ContainsFunc(denied.GetHeaders(), func(h *corev3.HeaderValueOption) bool {
			return h.GetHeader().GetKey() == "www-authenticate" && h.GetHeader().GetValue() != ""
		}) {
			t.Fatalf("no www-authenticate in %v", denied.GetHeaders())
		}
	})
	t.Run("good token: claim to header, token removed", func(t *testing.T) {
		t.Parallel()
		resp := check(t, client, httpCheck("GET", "/ip", withExt("namespace", "foo"), withHeader("authorization", "Bearer "+good)))
		ok := resp.GetOkResponse()
		if ok == nil {
			t.Fatalf("denied: %v", resp.GetDeniedResponse())
		}
		if len(ok.GetHeaders()) != 1 || ok.GetHeaders()[0].GetHeader().GetKey() != "x-jwt-sub" || ok.GetHeaders()[0].GetHeader().GetValue() != "alice" {
			t.Fatalf("headers %v, want x-jwt-sub: alice", ok.GetHeaders())
		}
		if ok.GetHeaders()[0].GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
			t.Fatalf("append_action %v, want OVERWRITE_IF_EXISTS_OR_ADD", ok.GetHeaders()[0].GetAppendAction())
		}
		if !slices.ContainsFunc(ok.GetHeadersToRemove(), func(h string) bool { return http.CanonicalHeaderKey(h) == "Authorization" }) {
			t.Fatalf("headers_to_remove %v, want the token's header", ok.GetHeadersToRemove())
		}
		if got := resp.GetDynamicMetadata().GetFields()[MetaRequestPrincipal].GetStringValue(); got != "https://issuer.example/alice" {
			t.Fatalf("request_principal %q", got)
		}
	})
}

func TestGRPCHealthAndReflection(t *testing.T) {
	t.Parallel()
	_, srv := newTestEngine(t, testPolicies(newSigner(t)))
	_, conn := serveGRPC(t, srv)

	for _, svc := range []string{"", "envoy.service.auth.v3.Authorization"} {
		resp, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health %q: %v %v, want SERVING", svc, resp.GetStatus(), err)
		}
	}

	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	_ = stream.CloseSend()
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !slices.Contains(names, "envoy.service.auth.v3.Authorization") {
		t.Fatalf("reflection lists %v", names)
	}
}

func TestHealthNotServingBeforeConfig(t *testing.T) {
	t.Parallel()
	srv := NewServer(nil, Options{})
	_, conn := serveGRPC(t, srv)
	resp, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{Service: "envoy.service.auth.v3.Authorization"})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health: %v %v, want NOT_SERVING", resp.GetStatus(), err)
	}
}
