package authz

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// The examples of Istio's RequestAuthentication reference page
// (istio.io/latest/docs/reference/config/security/request_authentication/), its JWTRule fields,
// and the authentication concept page (istio.io/latest/docs/concepts/security/, "Authentication
// policies"), written as YAML from the documented behaviour, each with requests that must pass
// (200), fail authentication (401) or be denied by the policy that requires a token (403).

const unauthorized = http.StatusUnauthorized

// inlineJWKS is the test issuer's key set as a YAML (JSON) double-quoted scalar for a jwtRule's
// jwks field.
func inlineJWKS(t testing.TB) string {
	t.Helper()
	doc, err := json.Marshal(jwtIssuer(t).jwks)
	if err != nil {
		t.Fatal(err)
	}
	return string(doc)
}

// jwksServer serves the test issuer's key set over HTTP, for jwtRules with a jwksUri.
func jwksServer(t testing.TB) string {
	t.Helper()
	jwks := jwtIssuer(t).jwks
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(jwks))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/.well-known/jwks.json"
}

// tokenOf signs a token for iss/sub with extra claims.
func tokenOf(t testing.TB, iss, sub string, extra map[string]any) string {
	t.Helper()
	c := map[string]any{"iss": iss, "sub": sub}
	for k, v := range extra {
		c[k] = v
	}
	return jwtIssuer(t).token(t, c)
}

// tamper breaks a token's signature.
func tamper(tok string) string { return tok[:len(tok)-4] + "AAAA" }

func query(q string) func(*Request) { return func(r *Request) { r.RawQuery = q } }

// checkReason asserts the status and Envoy's reason text of one decision.
func checkReason(t *testing.T, e *Engine, r *Request, status int, reason string) Decision {
	t.Helper()
	d := e.Check(t.Context(), r)
	if d.Status != status || d.Reason != reason {
		t.Fatalf("got %d %q, want %d %q", d.Status, d.Reason, status, reason)
	}
	if status == unauthorized && !slices.ContainsFunc(d.ResponseHeaders, func(h Header) bool {
		return strings.EqualFold(h.Name, "www-authenticate") && strings.HasPrefix(h.Value, "Bearer")
	}) {
		t.Fatalf("a 401 without www-authenticate: %+v", d.ResponseHeaders)
	}
	return d
}

// Reference: "Require JWT for all request for workloads that have label app:httpbin", keys from
// jwksUri, and an ALLOW policy with requestPrincipals ["*"] turning "a token, if any, must be
// valid" into "a valid token is required".
func TestRequestAuthnExampleRequireJWTForLabel(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{}, `
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: httpbin, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  jwtRules:
  - issuer: issuer-foo
    jwksUri: `+jwksServer(t)+`
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: httpbin, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  rules:
  - from:
    - source: {requestPrincipals: ["*"]}
`)
	good := bearer(tokenOf(t, "issuer-foo", "alice", nil))
	runChecks(t, e, []check{
		{"valid token", req(httpbinFoo, good), ok, "ns[foo]-policy[httpbin]-rule[0]"},
		{"no token", req(httpbinFoo), forbidden, "-"},
		{"bad signature", req(httpbinFoo, bearer(tamper(tokenOf(t, "issuer-foo", "alice", nil)))), unauthorized, ""},
		{"issuer no rule names", req(httpbinFoo, bearer(tokenOf(t, "issuer-bar", "alice", nil))), unauthorized, ""},
		{"not a bearer token", req(httpbinFoo, header("Authorization", "Basic YWxpY2U6cHc=")), forbidden, "-"},
		{"workload without the label, no token", req(otherFoo()), ok, "-"},
		{"workload without the label ignores tokens", req(otherFoo(), bearer("not-a-jwt")), ok, "-"},
		{"other namespace", req(httpbinBar), ok, "-"},
	})
	t.Run("reasons", func(t *testing.T) {
		t.Parallel()
		checkReason(t, e, req(httpbinFoo, bearer(tamper(tokenOf(t, "issuer-foo", "alice", nil)))), unauthorized, "Jwt verification fails")
		checkReason(t, e, req(httpbinFoo, bearer(tokenOf(t, "issuer-bar", "alice", nil))), unauthorized, "Jwt issuer is not configured")
		checkReason(t, e, req(httpbinFoo), forbidden, ReasonDenied)
	})
}

// Reference: a RequestAuthentication and an AuthorizationPolicy in the root namespace make every
// workload of the mesh accept only requests with a valid token.
func TestRequestAuthnExampleRootNamespace(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{}, `
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: req-authn-for-all, namespace: istio-system}
spec:
  jwtRules:
  - issuer: issuer-foo
    jwks: `+inlineJWKS(t)+`
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: require-jwt-for-all, namespace: istio-system}
spec:
  rules:
  - from:
    - source: {requestPrincipals: ["*"]}
`)
	good := bearer(tokenOf(t, "issuer-foo", "alice", nil))
	var checks []check
	for _, w := range []*Workload{httpbinFoo, httpbinBar, productsDef, ingress} {
		checks = append(checks,
			check{w.Namespace + " valid token", req(w, good), ok, "ns[istio-system]-policy[require-jwt-for-all]-rule[0]"},
			check{w.Namespace + " no token", req(w), forbidden, "-"},
			check{w.Namespace + " expired token", req(w, bearer(tokenOf(t, "issuer-foo", "alice", map[string]any{"exp": 1}))), unauthorized, ""},
		)
	}
	runChecks(t, e, checks)
}

// Reference: "a different JWT requirement for a different host": tokens of issuer-foo for
// example.com, of issuer-bar for another-host.com.
func TestRequestAuthnExamplePerHost(t *testing.T) {
	t.Parallel()
	iss := jwtIssuer(t)
	e := newEngine(t, Options{}, iss.requestAuthn("foo", "issuer-foo", "issuer-bar"), `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: httpbin, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  rules:
  - from:
    - source: {requestPrincipals: ["issuer-foo/*"]}
    to:
    - operation: {hosts: ["example.com"]}
  - from:
    - source: {requestPrincipals: ["issuer-bar/*"]}
    to:
    - operation: {hosts: ["another-host.com"]}
`)
	fooTok := bearer(tokenOf(t, "issuer-foo", "alice", nil))
	barTok := bearer(tokenOf(t, "issuer-bar", "bob", nil))
	runChecks(t, e, []check{
		{"issuer-foo to example.com", req(httpbinFoo, host("example.com"), fooTok), ok, "ns[foo]-policy[httpbin]-rule[0]"},
		{"issuer-bar to another-host.com", req(httpbinFoo, host("another-host.com"), barTok), ok, "ns[foo]-policy[httpbin]-rule[1]"},
		{"issuer-foo to another-host.com", req(httpbinFoo, host("another-host.com"), fooTok), forbidden, "-"},
		{"issuer-bar to example.com", req(httpbinFoo, host("example.com"), barTok), forbidden, "-"},
		{"no token to example.com", req(httpbinFoo, host("example.com")), forbidden, "-"},
		{"issuer-foo to another host", req(httpbinFoo, host("third.example"), fooTok), forbidden, "-"},
	})
}

// Reference: "require JWT on all paths, except /healthz" with the same RequestAuthentication and
// a second ALLOW rule for /healthz; and the same requirement as a DENY policy with
// notRequestPrincipals and notPaths, as Istio's per-path token task writes it.
func TestRequestAuthnExampleAllPathsExceptHealthz(t *testing.T) {
	t.Parallel()
	iss := jwtIssuer(t)
	good := bearer(tokenOf(t, "issuer-foo", "alice", nil))
	bad := bearer(tamper(tokenOf(t, "issuer-foo", "alice", nil)))
	t.Run("allow rules", func(t *testing.T) {
		t.Parallel()
		e := newEngine(t, Options{}, iss.requestAuthn("foo", "issuer-foo"), `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: httpbin, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  rules:
  - from:
    - source: {requestPrincipals: ["*"]}
  - to:
    - operation: {paths: ["/healthz"]}
`)
		runChecks(t, e, []check{
			{"/healthz without token", req(httpbinFoo, path("/healthz")), ok, "ns[foo]-policy[httpbin]-rule[1]"},
			{"/headers without token", req(httpbinFoo, path("/headers")), forbidden, "-"},
			{"/headers with token", req(httpbinFoo, path("/headers"), good), ok, "ns[foo]-policy[httpbin]-rule[0]"},
			// jwt_authn runs before RBAC: an invalid token fails even where none is needed.
			{"/healthz with a bad token", req(httpbinFoo, path("/healthz"), bad), unauthorized, ""},
		})
	})
	t.Run("deny rule with notPaths", func(t *testing.T) {
		t.Parallel()
		e := newEngine(t, Options{}, iss.requestAuthn("foo", "issuer-foo"), `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: require-jwt, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  action: DENY
  rules:
  - from:
    - source: {notRequestPrincipals: ["*"]}
    to:
    - operation: {notPaths: ["/healthz"]}
`)
		runChecks(t, e, []check{
			{"/healthz without token", req(httpbinFoo, path("/healthz")), ok, "-"},
			{"/headers without token", req(httpbinFoo, path("/headers")), forbidden, "ns[foo]-policy[require-jwt]-rule[0]"},
			{"/headers with token", req(httpbinFoo, path("/headers"), good), ok, "-"},
			{"/healthz with a bad token", req(httpbinFoo, path("/healthz"), bad), unauthorized, ""},
		})
	})
}

// JWTRule reference: the audiences example and the token locations (the default Authorization
// "Bearer " header and access_token parameter, fromHeaders with a prefix, fromParams,
// fromCookies). An ALLOW policy requires a principal, so a token in a location the rule does not
// name counts as no token (403), while a bad token where it looks is a 401.
func TestRequestAuthnExampleJWTRuleLocations(t *testing.T) {
	t.Parallel()
	jwks := inlineJWKS(t)
	requirePrincipal := `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: require-jwt, namespace: foo}
spec:
  rules:
  - from:
    - source: {requestPrincipals: ["*"]}
`
	ra := func(rule string) string {
		return `
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: foo}
spec:
  jwtRules:
  - issuer: https://example.com
    jwks: ` + jwks + `
` + rule
	}
	tok := tokenOf(t, "https://example.com", "alice", map[string]any{"aud": "bookstore_web.apps.example.com"})
	bad := tamper(tok)
	for _, c := range []struct {
		name   string
		rule   string
		checks []check
	}{
		{"audiences", `    audiences: [bookstore_android.apps.example.com, bookstore_web.apps.example.com]
`, []check{
			{"listed audience", req(httpbinFoo, bearer(tok)), ok, ""},
			{"audience in a list", req(httpbinFoo, bearer(tokenOf(t, "https://example.com", "a", map[string]any{"aud": []string{"x", "bookstore_android.apps.example.com"}}))), ok, ""},
			{"other audience", req(httpbinFoo, bearer(tokenOf(t, "https://example.com", "a", map[string]any{"aud": "bookstore.evil.example"}))), forbidden, "-"},
			{"no audience", req(httpbinFoo, bearer(tokenOf(t, "https://example.com", "a", nil))), forbidden, "-"},
		}},
		{"default locations", "", []check{
			{"Authorization Bearer", req(httpbinFoo, bearer(tok)), ok, ""},
			{"lower-case bearer", req(httpbinFoo, header("Authorization", "bearer "+tok)), ok, ""},
			{"access_token parameter", req(httpbinFoo, query("access_token="+tok)), ok, ""},
			{"bad token in access_token", req(httpbinFoo, query("access_token="+bad)), unauthorized, ""},
			{"other parameter", req(httpbinFoo, query("token="+tok)), forbidden, "-"},
			{"other header", req(httpbinFoo, header("x-jwt-assertion", "Bearer "+tok)), forbidden, "-"},
		}},
		{"fromHeaders with prefix", `    fromHeaders: [{name: x-jwt-assertion, prefix: "Bearer "}]
`, []check{
			{"header with prefix", req(httpbinFoo, header("x-jwt-assertion", "Bearer "+tok)), ok, ""},
			{"bad token in the header", req(httpbinFoo, header("x-jwt-assertion", "Bearer "+bad)), unauthorized, ""},
			{"header without the prefix", req(httpbinFoo, header("x-jwt-assertion", tok)), forbidden, "-"},
			{"Authorization is no longer looked at", req(httpbinFoo, bearer(bad)), forbidden, "-"},
			{"access_token is no longer looked at", req(httpbinFoo, query("access_token="+bad)), forbidden, "-"},
		}},
		{"fromHeaders without prefix", `    fromHeaders: [{name: x-goog-iap-jwt-assertion}]
`, []check{
			{"raw token", req(httpbinFoo, header("x-goog-iap-jwt-assertion", tok)), ok, ""},
			{"bad raw token", req(httpbinFoo, header("x-goog-iap-jwt-assertion", bad)), unauthorized, ""},
		}},
		{"fromParams", `    fromParams: [my_token]
`, []check{
			{"my_token", req(httpbinFoo, path("/path"), query("my_token="+tok)), ok, ""},
			{"my_token among others", req(httpbinFoo, path("/path"), query("a=1&my_token="+url.QueryEscape(tok)+"&b=2")), ok, ""},
			{"bad my_token", req(httpbinFoo, query("my_token="+bad)), unauthorized, ""},
			{"access_token is no longer looked at", req(httpbinFoo, query("access_token="+tok)), forbidden, "-"},
		}},
		{"fromCookies", `    fromCookies: [auth-token]
`, []check{
			{"cookie", req(httpbinFoo, header("Cookie", "session=x; auth-token="+tok)), ok, ""},
			{"bad cookie", req(httpbinFoo, header("Cookie", "auth-token="+bad)), unauthorized, ""},
			{"other cookie", req(httpbinFoo, header("Cookie", "token="+tok)), forbidden, "-"},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			runChecks(t, newEngine(t, Options{}, ra(c.rule), requirePrincipal), c.checks)
		})
	}
	t.Run("audience reason", func(t *testing.T) {
		t.Parallel()
		e := newEngine(t, Options{}, ra("    audiences: [bookstore_web.apps.example.com]\n"))
		// Envoy's jwt_authn answers a disallowed audience with 403, not 401.
		checkReason(t, e, req(httpbinFoo, bearer(tokenOf(t, "https://example.com", "a", map[string]any{"aud": "other"}))), forbidden, "Audiences in Jwt are not allowed")
	})
}

// JWTRule reference: outputPayloadToHeader, outputClaimToHeaders (nested claims included) and
// forwardOriginalToken shape what the upstream receives.
func TestRequestAuthnExampleOutputs(t *testing.T) {
	t.Parallel()
	jwks := inlineJWKS(t)
	e := newEngine(t, Options{}, `
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: outputs, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  jwtRules:
  - issuer: https://drop.example.com
    jwks: `+jwks+`
    outputPayloadToHeader: x-jwt-payload
    outputClaimToHeaders:
    - {header: x-my-company-jwt-group, claim: my-group}
    - {header: x-jwt-claim-group, claim: nested.key.group}
    - {header: x-test-environment-flag, claim: test-flag}
  - issuer: https://keep.example.com
    jwks: `+jwks+`
    forwardOriginalToken: true
`)
	claims := map[string]any{"my-group": "admins", "test-flag": true, "nested": map[string]any{"key": map[string]any{"group": "ops"}}}
	dropTok := tokenOf(t, "https://drop.example.com", "alice", claims)
	t.Run("payload and claims to headers, token removed", func(t *testing.T) {
		t.Parallel()
		d := checkReason(t, e, req(httpbinFoo, bearer(dropTok)), ok, "")
		got := map[string]string{}
		for _, h := range d.SetHeaders {
			got[strings.ToLower(h.Name)] = h.Value
		}
		for name, want := range map[string]string{"x-my-company-jwt-group": "admins", "x-jwt-claim-group": "ops", "x-test-environment-flag": "true"} {
			if got[name] != want {
				t.Errorf("%s = %q, want %q (all: %v)", name, got[name], want, got)
			}
		}
		payload, err := base64.RawURLEncoding.DecodeString(got["x-jwt-payload"])
		if err != nil {
			t.Fatalf("x-jwt-payload %q: %v", got["x-jwt-payload"], err)
		}
		var p map[string]any
		if err := json.Unmarshal(payload, &p); err != nil || p["sub"] != "alice" || p["iss"] != "https://drop.example.com" {
			t.Fatalf("x-jwt-payload decodes to %s (%v)", payload, err)
		}
		if !slices.ContainsFunc(d.RemoveHeaders, func(h string) bool { return strings.EqualFold(h, "authorization") }) {
			t.Errorf("the token is not removed upstream: RemoveHeaders %v", d.RemoveHeaders)
		}
	})
	t.Run("forwardOriginalToken keeps the token", func(t *testing.T) {
		t.Parallel()
		d := checkReason(t, e, req(httpbinFoo, bearer(tokenOf(t, "https://keep.example.com", "bob", claims))), ok, "")
		if slices.ContainsFunc(d.RemoveHeaders, func(h string) bool { return strings.EqualFold(h, "authorization") }) {
			t.Errorf("forwardOriginalToken, but the token is removed: %v", d.RemoveHeaders)
		}
		for _, h := range d.SetHeaders {
			if strings.EqualFold(h.Name, "x-my-company-jwt-group") || strings.EqualFold(h.Name, "x-jwt-payload") {
				t.Errorf("the other rule's output header %s is set: %+v", h.Name, d.SetHeaders)
			}
		}
		if d.Identity == nil || d.Identity.Principal() != "https://keep.example.com/bob" {
			t.Errorf("identity %+v, want https://keep.example.com/bob", d.Identity)
		}
	})
}

// RequestAuthentication and AuthorizationPolicy on a gateway by targetRefs: a Kubernetes Gateway
// API Gateway (its pods carry the gateway-name label) or, as Gatehouse also allows, the Service
// in front of the gateway.
func TestRequestAuthnExampleGatewayTargetRef(t *testing.T) {
	t.Parallel()
	jwks := inlineJWKS(t)
	e := newEngine(t, Options{}, `
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt-on-gateway, namespace: istio-ingress}
spec:
  targetRefs:
  - {kind: Gateway, group: gateway.networking.k8s.io, name: bookinfo-gateway}
  jwtRules:
  - issuer: issuer-foo
    jwks: `+jwks+`
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: require-jwt, namespace: istio-ingress}
spec:
  targetRefs:
  - {kind: Gateway, group: gateway.networking.k8s.io, name: bookinfo-gateway}
  rules:
  - from:
    - source: {requestPrincipals: ["*"]}
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt-on-service, namespace: istio-system}
spec:
  targetRef: {kind: Service, group: "", name: istio-ingressgateway}
  jwtRules:
  - issuer: issuer-bar
    jwks: `+jwks+`
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: require-jwt, namespace: istio-system}
spec:
  targetRef: {kind: Service, group: "", name: istio-ingressgateway}
  rules:
  - from:
    - source: {requestPrincipals: ["issuer-bar/*"]}
`)
	gw := NewWorkload("istio-ingress", map[string]string{"gateway.networking.k8s.io/gateway-name": "bookinfo-gateway"})
	otherGW := NewWorkload("istio-ingress", map[string]string{"gateway.networking.k8s.io/gateway-name": "other"})
	fooTok := bearer(tokenOf(t, "issuer-foo", "alice", nil))
	barTok := bearer(tokenOf(t, "issuer-bar", "bob", nil))
	runChecks(t, e, []check{
		{"Gateway: valid token", req(gw, fooTok), ok, "ns[istio-ingress]-policy[require-jwt]-rule[0]"},
		{"Gateway: no token", req(gw), forbidden, "-"},
		{"Gateway: issuer of the other policy", req(gw, barTok), unauthorized, ""},
		{"other Gateway: no token", req(otherGW), ok, "-"},
		{"other Gateway: token not looked at", req(otherGW, bearer("not-a-jwt")), ok, "-"},
		{"Service: valid token", req(ingress, barTok), ok, "ns[istio-system]-policy[require-jwt]-rule[0]"},
		{"Service: no token", req(ingress), forbidden, "-"},
		{"Service: issuer of the other policy", req(ingress, fooTok), unauthorized, ""},
	})
}

// Concept page: several RequestAuthentication policies on one workload combine as if they were
// one, each jwtRule may use its own location, and the principal is <iss>/<sub>.
func TestRequestAuthnConceptCombinedPolicies(t *testing.T) {
	t.Parallel()
	jwks := inlineJWKS(t)
	e := newEngine(t, Options{}, `
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: namespace-wide, namespace: foo}
spec:
  jwtRules:
  - issuer: issuer-foo
    jwks: `+jwks+`
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: httpbin, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  jwtRules:
  - issuer: issuer-bar
    jwks: `+jwks+`
    fromHeaders: [{name: x-bar-token}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: principals, namespace: foo}
spec:
  rules:
  - from:
    - source: {requestPrincipals: ["issuer-foo/alice", "issuer-bar/bob"]}
`)
	runChecks(t, e, []check{
		{"issuer-foo alice in Authorization", req(httpbinFoo, bearer(tokenOf(t, "issuer-foo", "alice", nil))), ok, "ns[foo]-policy[principals]-rule[0]"},
		{"issuer-bar bob in x-bar-token", req(httpbinFoo, header("x-bar-token", tokenOf(t, "issuer-bar", "bob", nil))), ok, ""},
		{"issuer-foo bob: principal not allowed", req(httpbinFoo, bearer(tokenOf(t, "issuer-foo", "bob", nil))), forbidden, "-"},
		{"issuer-bar token in Authorization", req(httpbinFoo, bearer(tokenOf(t, "issuer-bar", "bob", nil))), unauthorized, ""},
		{"issuer-foo token in x-bar-token", req(httpbinFoo, header("x-bar-token", tokenOf(t, "issuer-foo", "alice", nil))), unauthorized, ""},
		{"the selector-less policy alone on another workload", req(otherFoo(), bearer(tokenOf(t, "issuer-foo", "alice", nil))), ok, ""},
		{"the selected policy does not reach another workload", req(otherFoo(), header("x-bar-token", tokenOf(t, "issuer-bar", "bob", nil))), forbidden, "-"},
	})
}

// otherFoo is a workload in foo that selectors for app: httpbin do not select.
func otherFoo() *Workload { return NewWorkload("foo", map[string]string{"app": "other"}) }
