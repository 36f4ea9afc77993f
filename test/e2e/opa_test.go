package e2e

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// opaPolicy is Rego in opa-envoy-plugin's style: the bearer token's roles (signature, issuer and
// expiry verified against the JWKS in data), RBAC on parsed_path and the method, a request header
// for the upstream and a response header for the client on allow, a JSON 401 for a caller
// without a valid token and a 403 with a reason header for one without the role.
const opaPolicy = `package envoy.authz

import rego.v1

claims := payload if {
	auth := input.attributes.request.http.headers.authorization
	startswith(auth, "Bearer ")
	[valid, _, payload] := io.jwt.decode_verify(substring(auth, 7, -1), {"cert": json.marshal(data.jwks), "iss": data.issuer})
	valid
}

default user := "anonymous"

user := claims.sub

roles := {r | some r in claims.roles}

method := input.attributes.request.http.method

section := input.parsed_path[1] if input.parsed_path[0] == "anything"

permitted if {
	section == "public"
	method == "GET"
}

permitted if "admin" in roles

permitted if {
	"user" in roles
	section == "items"
	method in USER_ITEM_METHODS
}

default allow := {
	"allowed": false,
	"http_status": 403,
	"body": "forbidden by policy",
	"headers": {"x-authz-reason": "role"},
}

allow := {
	"allowed": true,
	"headers": {"x-user": user},
	"request_headers_to_remove": ["authorization"],
	"response_headers_to_add": {"x-authz": "opa"},
} if permitted

allow := {
	"allowed": false,
	"http_status": 401,
	"body": "{\"error\":\"unauthenticated\"}",
	"headers": {"content-type": "application/json", "www-authenticate": "Bearer realm=\"opa\""},
} if {
	not permitted
	not claims
}
`

// regoWithUserMethods is opaPolicy with the methods a "user" may use on /anything/items.
func regoWithUserMethods(methods ...string) string {
	quoted := make([]string, len(methods))
	for i, m := range methods {
		quoted[i] = `"` + m + `"`
	}
	return strings.Replace(opaPolicy, "USER_ITEM_METHODS", "{"+strings.Join(quoted, ", ")+"}", 1)
}

const opaMesh = `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    extensionProviders:
    - name: opa-ext-authz
      envoyExtAuthzGrpc: {service: opa.istio-system.svc.cluster.local, port: 9191}
---
apiVersion: gatehouse.dev/v1alpha1
kind: Settings
metadata: {name: gatehouse, namespace: istio-system}
spec:
  opa:
  - provider: opa-ext-authz
    dir: rego
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: opa, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: CUSTOM
  provider: {name: opa-ext-authz}
  rules: [{to: [{operation: {paths: ["/anything/*"]}}]}]
`

// opaOutcome is what a client and the upstream see of one decision.
type opaOutcome struct {
	status int
	// body is a denial's body.
	body string
	// client are the response headers the policy decides (on allow or deny), by lower-case name.
	client map[string]string
	// user is the x-user header the upstream got; upstreamAuth whether Authorization reached it.
	user         string
	upstreamAuth bool
}

// opaClientHeaders are the response headers the policy sets.
var opaClientHeaders = []string{"content-type", "www-authenticate", "x-authz", "x-authz-reason"}

// TestOPA runs one `gatehouse run` whose built-in OPA serves the CUSTOM provider, and sends each
// request of a role × path × method table through the gateway with curl and, as a CheckRequest
// naming the gateway's workload, to the same process's ext_authz gRPC Check: both must give the
// policy's decision, with the same status, body and headers. Then it edits the .rego file and
// waits for the new decision.
func TestOPA(t *testing.T) {
	t.Parallel()
	signer := newJWTSigner(t, "https://opa.example.com", jwa.ES256)
	forger := newJWTSigner(t, "https://opa.example.com", jwa.ES256)
	api := backend(t, "api")
	dir := t.TempDir()
	regoDir := filepath.Join(dir, "rego")
	if err := os.Mkdir(regoDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "gateway.yaml", authzGateway(api))
	writeFile(t, dir, "opa.yaml", opaMesh)
	writeFile(t, regoDir, "authz.rego", regoWithUserMethods("GET"))
	writeFile(t, regoDir, "data.json", `{"issuer": "https://opa.example.com", "jwks": `+signer.jwks+`}`)
	g := run(t, dir, 80)

	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", g.authz), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	checker := authv3.NewAuthorizationClient(conn)

	tokens := map[string]string{
		"admin":  signer.roleToken(t, "ada", "admin"),
		"user":   signer.roleToken(t, "uma", "user"),
		"none":   "",
		"forged": forger.roleToken(t, "eve", "admin"),
	}
	subs := map[string]string{"admin": "ada", "user": "uma"}
	// want is the policy's decision, written out independently of the Rego.
	want := func(role, path, method string, userMethods []string) opaOutcome {
		section := strings.Split(path, "/")[2]
		allowed := (section == "public" && method == "GET") || role == "admin" ||
			(role == "user" && section == "items" && slices.Contains(userMethods, method))
		switch {
		case allowed:
			sub := subs[role]
			if sub == "" {
				sub = "anonymous"
			}
			return opaOutcome{status: 200, client: map[string]string{"x-authz": "opa"}, user: sub}
		case role == "none" || role == "forged":
			return opaOutcome{status: 401, body: `{"error":"unauthenticated"}`,
				client: map[string]string{"content-type": "application/json", "www-authenticate": `Bearer realm="opa"`}}
		}
		return opaOutcome{status: 403, body: "forbidden by policy", client: map[string]string{"content-type": "text/plain", "x-authz-reason": "role"}}
	}

	// The group returns once all its parallel requests have run, before the policy changes.
	t.Run("decisions", func(t *testing.T) {
		for _, role := range []string{"admin", "user", "none", "forged"} {
			for _, path := range []string{"/anything/public", "/anything/items/1", "/anything/admin/users"} {
				for _, method := range []string{"GET", "POST", "DELETE"} {
					t.Run(role+" "+method+" "+path, func(t *testing.T) {
						t.Parallel()
						exp := want(role, path, method, []string{"GET"})
						viaGateway := opaThroughGateway(t, g, method, path, tokens[role])
						viaCheck := opaThroughCheck(t, checker, method, path, tokens[role])
						if !opaEqual(viaGateway, exp) {
							t.Errorf("gateway: %+v, want %+v", viaGateway, exp)
						}
						if !opaEqual(viaCheck, exp) {
							t.Errorf("gRPC Check: %+v, want %+v", viaCheck, exp)
						}
					})
				}
			}
		}
	})
	t.Run("reload", func(t *testing.T) {
		if got, exp := opaThroughGateway(t, g, "POST", "/anything/items/1", tokens["user"]), want("user", "/anything/items/1", "POST", []string{"GET"}); !opaEqual(got, exp) {
			t.Fatalf("before the edit: %+v, want %+v", got, exp)
		}
		exp := want("user", "/anything/items/1", "POST", []string{"GET", "POST"})
		writeFile(t, regoDir, "authz.rego", regoWithUserMethods("GET", "POST"))
		deadline := time.Now().Add(30 * time.Second)
		for {
			got := opaThroughGateway(t, g, "POST", "/anything/items/1", tokens["user"])
			if opaEqual(got, exp) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after the edit the gateway still answers %+v, want %+v", got, exp)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if got := opaThroughCheck(t, checker, "POST", "/anything/items/1", tokens["user"]); !opaEqual(got, exp) {
			t.Errorf("gRPC Check after the edit: %+v, want %+v", got, exp)
		}
		// Only the rule edited changed.
		if got, exp := opaThroughCheck(t, checker, "DELETE", "/anything/items/1", tokens["user"]), want("user", "/anything/items/1", "DELETE", nil); !opaEqual(got, exp) {
			t.Errorf("gRPC Check DELETE after the edit: %+v, want %+v", got, exp)
		}
	})
	t.Run("a Rego error keeps the last good policy", func(t *testing.T) {
		before := opaThroughGateway(t, g, "POST", "/anything/items/1", tokens["user"])
		// The reload is done once the parse error is logged with its file:line.
		where := regexp.MustCompile(`authz\.rego:\d+: rego_parse_error`)
		seen := len(where.FindAllString(g.out.String(), -1))
		writeFile(t, regoDir, "authz.rego", regoWithUserMethods("GET")+"\nallow := {\n")
		deadline := time.Now().Add(30 * time.Second)
		for len(where.FindAllString(g.out.String(), -1)) <= seen {
			if time.Now().After(deadline) {
				t.Fatal("no rego_parse_error naming authz.rego:<line> was logged for the broken policy")
			}
			time.Sleep(100 * time.Millisecond)
		}
		if got := opaThroughGateway(t, g, "POST", "/anything/items/1", tokens["user"]); !opaEqual(got, before) {
			t.Errorf("gateway after a broken edit: %+v, want the last good policy's %+v", got, before)
		}
		if got := opaThroughCheck(t, checker, "POST", "/anything/items/1", tokens["user"]); !opaEqual(got, before) {
			t.Errorf("gRPC Check after a broken edit: %+v, want the last good policy's %+v", got, before)
		}
	})
}

// roleToken signs a token for sub carrying roles, valid for an hour.
func (s *jwtSigner) roleToken(t *testing.T, sub string, roles ...string) string {
	t.Helper()
	return s.Sign(t, map[string]any{"iss": s.issuer, "sub": sub, "roles": roles})
}

// opaThroughGateway sends the request with curl through the gateway.
func opaThroughGateway(t *testing.T, g *gatehouse, method, path, token string) opaOutcome {
	t.Helper()
	args := []string{"-X", method, "-H", "Host: api.example.com"}
	if token != "" {
		args = append(args, "-H", "Authorization: Bearer "+token)
	}
	head, body, code := curlHeaders(t, append(args, g.url(path))...)
	out := opaOutcome{status: code, client: map[string]string{}}
	for line := range strings.SplitSeq(head, "\r\n") {
		name, value, ok := strings.Cut(line, ":")
		if name = strings.ToLower(name); ok && slices.Contains(opaClientHeaders, name) {
			out.client[name] = strings.TrimSpace(value)
		}
	}
	if code != http.StatusOK {
		out.body = body
		return out
	}
	// The upstream's own content type is not the policy's.
	delete(out.client, "content-type")
	e := decodeEcho(t, body)
	out.user, _ = e.Headers["X-User"].(string)
	out.upstreamAuth = e.Headers["Authorization"] != nil
	return out
}

// opaThroughCheck sends the request as the gateway's Envoy would to ext_authz, with
// context_extensions naming the gateway workload, and reads the answer as Envoy applies it.
func opaThroughCheck(t *testing.T, c authv3.AuthorizationClient, method, path, token string) opaOutcome {
	t.Helper()
	headers := map[string]string{":authority": "api.example.com", ":method": method, ":path": path, ":scheme": "http",
		"user-agent": "curl/8", "accept": "*/*"}
	if token != "" {
		headers["authorization"] = "Bearer " + token
	}
	addr := func(ip string, port uint32) *corev3.Address {
		return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port}}}}
	}
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:      &authv3.AttributeContext_Peer{Address: addr("127.0.0.1", 40000)},
		Destination: &authv3.AttributeContext_Peer{Address: addr("127.0.0.1", 80)},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: method, Host: "api.example.com", Path: path, Scheme: "http", Protocol: "HTTP/1.1", Headers: headers,
		}},
		ContextExtensions: map[string]string{"namespace": "istio-system", "labels": "istio=ingressgateway"},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Check(ctx, req)
	if err != nil {
		t.Fatalf("Check %s %s: %v", method, path, err)
	}
	out := opaOutcome{client: map[string]string{}}
	if ok := resp.GetOkResponse(); resp.GetStatus().GetCode() == 0 {
		out.status = http.StatusOK
		for _, h := range ok.GetResponseHeadersToAdd() {
			out.client[strings.ToLower(h.GetHeader().GetKey())] = h.GetHeader().GetValue()
		}
		// Applied in order, the last value of a header is the one the upstream gets.
		for _, h := range ok.GetHeaders() {
			if strings.EqualFold(h.GetHeader().GetKey(), "x-user") {
				out.user = h.GetHeader().GetValue()
			}
		}
		out.upstreamAuth = !slices.ContainsFunc(ok.GetHeadersToRemove(), func(n string) bool { return strings.EqualFold(n, "authorization") })
		return out
	}
	d := resp.GetDeniedResponse()
	out.status, out.body = int(d.GetStatus().GetCode()), d.GetBody()
	if out.status == 0 {
		out.status = http.StatusForbidden
	}
	// Envoy's local reply is text/plain when it has a body, unless the denial sets a type.
	if out.body != "" {
		out.client["content-type"] = "text/plain"
	}
	for _, h := range d.GetHeaders() {
		out.client[strings.ToLower(h.GetHeader().GetKey())] = h.GetHeader().GetValue()
	}
	return out
}

func opaEqual(a, b opaOutcome) bool {
	return a.status == b.status && a.body == b.body && maps.Equal(a.client, b.client) && a.user == b.user && a.upstreamAuth == b.upstreamAuth
}
