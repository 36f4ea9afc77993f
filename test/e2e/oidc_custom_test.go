package e2e

import (
	"fmt"
	"net/http"
	"testing"
)

// TestOIDCKubeflowCustom wires the login the way Kubeflow's manifests wire oauth2-proxy: a
// MeshConfig extension provider and a CUSTOM AuthorizationPolicy at the ingress gateway, with
// the OIDCLogin taking the provider's name (issue 7, the second way to attach). A browser signs in
// from two tabs at once, a replayed callback is refused, the paths the policy leaves out need no
// session, and the user-id header a client sends never reaches the upstream.
func TestOIDCKubeflowCustom(t *testing.T) {
	t.Parallel()
	e := startSignInEdge(t, func(issuer string) []string {
		return []string{`apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    extensionProviders:
    - name: oauth2-proxy
      envoyExtAuthzHttp:
        service: oauth2-proxy.oauth2-proxy.svc.cluster.local
        port: 80
        headersToDownstreamOnDeny: [content-type, set-cookie]
        headersToUpstreamOnAllow: [authorization, path, x-auth-request-email, x-auth-request-groups, x-auth-request-user]
        includeRequestHeadersInCheck: [authorization, cookie]
`, `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: istio-ingressgateway-oauth2-proxy, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: CUSTOM
  provider: {name: oauth2-proxy}
  rules:
  - to: [{operation: {notPaths: ["/dex/*", "/oauth2/*", "/anything/public/*"]}}]
    when: [{key: "request.headers[authorization]", notValues: ["*"]}]
`, `apiVersion: gatehouse.dev/v1alpha1
kind: OIDCLogin
metadata: {name: oauth2-proxy, namespace: istio-system}
spec:
  provider: oauth2-proxy
  issuer: ` + issuer + `
  clientID: gatehouse
  clientSecret: {name: oidc-client, key: client-secret}
  scopes: [openid, email, profile, groups]
  headers:
    userID: {name: kubeflow-userid, claim: email}
    groups: {name: kubeflow-groups}
`, `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: dex-jwt, namespace: istio-system}
spec:
  jwtRules: [{issuer: "` + issuer + `", audiences: [gatehouse]}]
`}
	})

	b := e.browser()
	first := e.startLogin(b, "/headers?tab=1")
	second := e.startLogin(b, "/headers?tab=2")
	cb1 := e.signInAt(b, first, "alice")
	cb2 := e.signInAt(b, second, "alice")
	if code, back := e.finish(b, cb2); code != http.StatusFound || back != "/headers?tab=2" {
		t.Errorf("second tab's callback: %d to %q, want 302 to /headers?tab=2", code, back)
	}
	if code, back := e.finish(b, cb1); code != http.StatusFound || back != "/headers?tab=1" {
		t.Errorf("first tab's callback: %d to %q, want 302 to /headers?tab=1", code, back)
	}
	if code, _ := e.finish(b, cb1); code != http.StatusBadRequest {
		t.Errorf("replayed callback: %d, want 400", code)
	}
	seen := e.upstreamHeaders(b, "/headers?tab=1")
	if got := fmt.Sprint(seen["Kubeflow-Userid"], " ", seen["Kubeflow-Groups"]); got != "alice@example.com admins,dev" {
		t.Errorf("upstream kubeflow-userid and -groups %q, want alice@example.com admins,dev", got)
	}

	anonymous := e.browser()
	resp, body := e.get(anonymous, e.site+"/anything/public/x", navigate...)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a path the CUSTOM policy leaves out: %d %s, want 200 without a session", resp.StatusCode, body)
	}
	if _, spoofed := e.upstreamHeaders(b, "/anything/public/x")["Kubeflow-Userid"]; spoofed {
		t.Error("a client's own kubeflow-userid reached the upstream on a path the login does not run for")
	}
	if resp, _ := e.get(anonymous, e.site+"/headers", "Accept", "application/json"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API request without a session: %d, want 401", resp.StatusCode)
	}
}
