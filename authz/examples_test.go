package authz

import (
	"net/http"
	"testing"
)

// The examples of Istio's AuthorizationPolicy reference page
// (istio.io/latest/docs/reference/config/security/authorization-policy/), written as YAML from the
// documented behaviour, each with requests it must allow and deny.

const (
	ok        = http.StatusOK
	forbidden = http.StatusForbidden
	sleepSA   = "cluster.local/ns/default/sa/sleep"
)

func TestReferenceAllowWithJWTCondition(t *testing.T) {
	t.Parallel()
	iss := jwtIssuer(t)
	e := newEngine(t, Options{}, iss.requestAuthn("foo", "https://accounts.google.com", "https://other.example"), `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: httpbin, namespace: foo}
spec:
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/default/sa/sleep"]
    - source:
        namespaces: ["test"]
    to:
    - operation:
        methods: ["GET"]
        paths: ["/info*"]
    - operation:
        methods: ["POST"]
        paths: ["/data"]
    when:
    - key: request.auth.claims[iss]
      values: ["https://accounts.google.com"]
`)
	google := bearer(iss.token(t, map[string]any{"iss": "https://accounts.google.com", "sub": "u1"}))
	other := bearer(iss.token(t, map[string]any{"iss": "https://other.example", "sub": "u1"}))
	testPeer := peer("cluster.local/ns/test/sa/any")
	runChecks(t, e, []check{
		{"sleep GET /info with google token", req(httpbinFoo, peer(sleepSA), path("/info"), google), ok, "ns[foo]-policy[httpbin]-rule[0]"},
		{"sleep GET /info/x with google token", req(httpbinFoo, peer(sleepSA), path("/info/x"), google), ok, ""},
		{"test namespace POST /data", req(httpbinFoo, testPeer, method("POST"), path("/data"), google), ok, ""},
		{"no token", req(httpbinFoo, peer(sleepSA), path("/info")), forbidden, "-"},
		{"other issuer", req(httpbinFoo, peer(sleepSA), path("/info"), other), forbidden, ""},
		{"POST /info", req(httpbinFoo, peer(sleepSA), method("POST"), path("/info"), google), forbidden, ""},
		{"GET /data", req(httpbinFoo, testPeer, path("/data"), google), forbidden, ""},
		{"dev namespace", req(httpbinFoo, peer("cluster.local/ns/dev/sa/x"), path("/info"), google), forbidden, ""},
		{"no mTLS", req(httpbinFoo, path("/info"), google), forbidden, ""},
	})
}

func TestReferenceDenyPostFromDev(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{}, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: httpbin, namespace: foo}
spec:
  action: DENY
  rules:
  - from:
    - source:
        namespaces: ["dev"]
    to:
    - operation:
        methods: ["POST"]
`)
	dev := peer("cluster.local/ns/dev/sa/client")
	runChecks(t, e, []check{
		{"dev POST", req(httpbinFoo, dev, method("POST")), forbidden, "ns[foo]-policy[httpbin]-rule[0]"},
		{"dev GET", req(httpbinFoo, dev), ok, "-"},
		{"prod POST", req(httpbinFoo, peer("cluster.local/ns/prod/sa/client"), method("POST")), ok, "-"},
		{"dev POST to another namespace", req(httpbinBar, dev, method("POST")), ok, "-"},
	})
}

// The reference page: "When this rule is applied to TCP traffic, the method field cannot be
// processed. For a DENY rule, missing attributes are treated as matches. This means all TCP traffic
// on port 8080 would be denied."
func TestReferenceDenyPostOnPort8080(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{}, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: httpbin, namespace: foo}
spec:
  action: DENY
  rules:
  - to:
    - operation:
        methods: ["POST"]
        ports: ["8080"]
`)
	runChecks(t, e, []check{
		{"POST 8080", req(httpbinFoo, method("POST"), port(8080)), forbidden, "ns[foo]-policy[httpbin]-rule[0]"},
		{"GET 8080", req(httpbinFoo, port(8080)), ok, "-"},
		{"POST 9090", req(httpbinFoo, method("POST"), port(9090)), ok, "-"},
		{"TCP 8080", req(httpbinFoo, tcp, port(8080)), forbidden, "ns[foo]-policy[httpbin]-rule[0]"},
		{"TCP 9090", req(httpbinFoo, tcp, port(9090)), ok, "-"},
	})
}

func TestReferenceAudit(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{}, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {namespace: ns1, name: anyname}
spec:
  selector:
    matchLabels:
      app: myapi
  action: AUDIT
  rules:
  - to:
    - operation:
        methods: ["GET"]
        paths: ["/user/profile/*"]
`)
	myapi := NewWorkload("ns1", map[string]string{"app": "myapi"})
	for _, c := range []struct {
		name    string
		req     *Request
		audited bool
	}{
		{"GET profile", req(myapi, path("/user/profile/alice")), true},
		{"POST profile", req(myapi, method("POST"), path("/user/profile/alice")), false},
		{"GET other", req(myapi, path("/user/settings")), false},
		{"other workload", req(NewWorkload("ns1", map[string]string{"app": "web"}), path("/user/profile/alice")), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := e.Check(t.Context(), c.req)
			if !d.Allowed || d.Audited != c.audited {
				t.Fatalf("Allowed %v Audited %v (%q), want allowed, audited %v", d.Allowed, d.Audited, d.AuditPolicy, c.audited)
			}
			if c.audited && d.AuditPolicy != "ns[ns1]-policy[anyname]-rule[0]" {
				t.Fatalf("AuditPolicy %q", d.AuditPolicy)
			}
		})
	}
}

func TestReferenceAllowNothingNamespace(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{}, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nothing, namespace: foo}
spec:
  {}
`)
	runChecks(t, e, []check{
		{"foo denied", req(httpbinFoo), forbidden, "-"},
		{"foo TCP denied", req(httpbinFoo, tcp), forbidden, "-"},
		{"bar allowed", req(httpbinBar), ok, "-"},
	})
}

func TestReferenceAllowAllNamespace(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{}, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nothing, namespace: foo}
spec:
  {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-all, namespace: foo}
spec:
  rules:
  - {}
`)
	runChecks(t, e, []check{
		{"any request", req(httpbinFoo, method("DELETE"), path("/x")), ok, "ns[foo]-policy[allow-all]-rule[0]"},
		{"TCP", req(httpbinFoo, tcp), ok, ""},
	})
}

func TestReferenceAllowNothingSelector(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{}, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nothing, namespace: bar}
spec:
  selector:
    matchLabels:
      app: httpbin
`)
	runChecks(t, e, []check{
		{"httpbin denied", req(httpbinBar), forbidden, "-"},
		{"other workload allowed", req(otherBar), ok, "-"},
		{"httpbin in foo allowed", req(httpbinFoo), ok, "-"},
	})
}

func TestReferenceAllowNothingMeshWideSelector(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{}, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nothing, namespace: istio-system}
spec:
  selector:
    matchLabels:
      version: v1
`)
	runChecks(t, e, []check{
		{"v1 in foo denied", req(httpbinFoo), forbidden, "-"},
		{"v1 in bar denied", req(httpbinBar), forbidden, "-"},
		{"no version allowed", req(otherBar), ok, "-"},
		{"v2 allowed", req(NewWorkload("foo", map[string]string{"app": "httpbin", "version": "v2"})), ok, "-"},
	})
}

func TestReferenceDryRun(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{}, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: dry-run-example
  namespace: foo
  annotations:
    "istio.io/dry-run": "true"
spec:
  selector:
    matchLabels:
      app: httpbin
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/headers"]
`)
	d := e.Check(t.Context(), req(httpbinFoo, path("/headers")))
	if !d.Allowed || !d.DryRun.Evaluated || d.DryRun.Allowed || d.DryRun.Policy != "ns[foo]-policy[dry-run-example]-rule[0]" {
		t.Fatalf("dry-run DENY on /headers: %+v", d)
	}
	d = e.Check(t.Context(), req(httpbinFoo, path("/ip")))
	if !d.Allowed || !d.DryRun.Evaluated || !d.DryRun.Allowed {
		t.Fatalf("dry-run DENY on /ip: %+v", d)
	}
}

const customPolicy = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext-authz, namespace: istio-system}
spec:
  selector:
    matchLabels:
      app: istio-ingressgateway
  action: CUSTOM
  provider:
    name: "my-custom-authz"
  rules:
  - to:
    - operation:
        paths: ["/admin/*"]
`

const meshWithProvider = `
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    extensionProviders:
    - name: my-custom-authz
      envoyExtAuthzHttp:
        service: ext-authz.foo.svc.cluster.local
        port: 8000
`

// With a usable provider, a CUSTOM match names it; with an unusable one, istiod replaces the CUSTOM
// rules by DENY rules ("…-deny-due-to-bad-CUSTOM-action"), so only matching requests are denied.
func TestReferenceCustom(t *testing.T) {
	t.Parallel()
	ready := func(name string) bool { return name == "my-custom-authz" }
	t.Run("provider ready", func(t *testing.T) {
		t.Parallel()
		e := newEngine(t, Options{CustomProviderReady: ready}, meshWithProvider, customPolicy)
		d := e.Check(t.Context(), req(ingress, path("/admin/users")))
		if !d.Allowed || d.CustomProvider != "my-custom-authz" || d.CustomPolicy != "ns[istio-system]-policy[ext-authz]-rule[0]" {
			t.Fatalf("admin: %+v", d)
		}
		if d := e.Check(t.Context(), req(ingress, path("/public"))); !d.Allowed || d.CustomProvider != "" {
			t.Fatalf("public: %+v", d)
		}
	})
	for name, docs := range map[string][]string{
		"no provider wiring":         {meshWithProvider, customPolicy},
		"provider not in MeshConfig": {customPolicy},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			opts := Options{}
			if name != "no provider wiring" {
				opts.CustomProviderReady = ready
			}
			e := newEngine(t, opts, docs...)
			runChecks(t, e, []check{
				{"admin denied", req(ingress, path("/admin/users")), forbidden, "istio-ext-authz-ns[istio-system]-policy[ext-authz]-rule[0]-deny-due-to-bad-CUSTOM-action"},
				{"public allowed", req(ingress, path("/public")), ok, "-"},
			})
		})
	}
}

// Source: "matches if the principal is admin or dev and the namespace is prod or test and the ip is
// not 203.0.113.4". Namespaces are read from the principal's /ns/ element, so the principals here
// are SPIFFE IDs in those namespaces.
func TestReferenceSourceFieldsAnded(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{}, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: src, namespace: foo}
spec:
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/prod/sa/admin", "cluster.local/ns/test/sa/dev", "admin"]
        namespaces: ["prod", "test"]
        notIpBlocks: ["203.0.113.4"]
`)
	runChecks(t, e, []check{
		{"admin in prod", req(httpbinFoo, peer("cluster.local/ns/prod/sa/admin")), ok, ""},
		{"dev in test", req(httpbinFoo, peer("cluster.local/ns/test/sa/dev")), ok, ""},
		{"admin from the excluded IP", req(httpbinFoo, peer("cluster.local/ns/prod/sa/admin"), srcIP("203.0.113.4")), forbidden, ""},
		{"principal admin has no namespace", req(httpbinFoo, peer("admin")), forbidden, ""},
		{"other principal", req(httpbinFoo, peer("cluster.local/ns/prod/sa/web")), forbidden, ""},
	})
}

// Operation: "matches if the host has suffix .example.com and the method is GET or HEAD and the
// path doesn't have prefix /admin".
func TestReferenceOperationFieldsAnded(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{}, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: op, namespace: foo}
spec:
  rules:
  - to:
    - operation:
        hosts: ["*.example.com"]
        methods: ["GET", "HEAD"]
        notPaths: ["/admin*"]
`)
	runChecks(t, e, []check{
		{"GET www", req(httpbinFoo, host("www.example.com"), path("/index")), ok, ""},
		{"HEAD upper-case host", req(httpbinFoo, method("HEAD"), host("WWW.Example.COM")), ok, ""},
		{"admin path", req(httpbinFoo, host("www.example.com"), path("/admin/x")), forbidden, ""},
		{"adminx path", req(httpbinFoo, host("www.example.com"), path("/administrator")), forbidden, ""},
		{"POST", req(httpbinFoo, method("POST"), host("www.example.com")), forbidden, ""},
		{"bare domain", req(httpbinFoo, host("example.com")), forbidden, ""},
		{"host with port", req(httpbinFoo, host("www.example.com:8080")), forbidden, ""},
	})
}

// Rule: exact `abc`, prefix `abc*` (abc, abcd), suffix `*abc` (abc, xabc), presence `*` (not empty).
func TestReferenceValueMatching(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{}, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: values, namespace: foo}
spec:
  rules:
  - when:
    - key: "request.headers[x-exact]"
      values: ["abc"]
  - when:
    - key: "request.headers[x-prefix]"
      values: ["abc*"]
  - when:
    - key: "request.headers[x-suffix]"
      values: ["*abc"]
  - when:
    - key: "request.auth.claims[sub]"
      values: ["*"]
  - from:
    - source: {principals: ["*"]}
`)
	runChecks(t, e, []check{
		{"exact", req(httpbinFoo, header("x-exact", "abc")), ok, "ns[foo]-policy[values]-rule[0]"},
		{"exact longer", req(httpbinFoo, header("x-exact", "abcd")), forbidden, ""},
		{"prefix abc", req(httpbinFoo, header("x-prefix", "abc")), ok, ""},
		{"prefix abcd", req(httpbinFoo, header("x-prefix", "abcd")), ok, ""},
		{"prefix xabc", req(httpbinFoo, header("x-prefix", "xabc")), forbidden, ""},
		{"suffix abc", req(httpbinFoo, header("x-suffix", "abc")), ok, ""},
		{"suffix xabc", req(httpbinFoo, header("x-suffix", "xabc")), ok, ""},
		{"suffix abcd", req(httpbinFoo, header("x-suffix", "abcd")), forbidden, ""},
		{"presence: any peer", req(httpbinFoo, peer("cluster.local/ns/a/sa/b")), ok, "ns[foo]-policy[values]-rule[4]"},
		{"presence: no peer", req(httpbinFoo), forbidden, ""},
	})
}

// Operation.paths templates, the examples of the reference page, with Envoy's uri_template
// semantics ({*}: one non-empty segment; {**}: [pchar/]*, full match).
func TestReferencePathTemplates(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		template string
		path     string
		want     bool
	}{
		{"/foo/{*}", "/foo/bar", true},
		{"/foo/{*}", "/foo/bar/baz", false},
		{"/foo/{*}", "/foo/", false},
		{"/foo/{**}/", "/foo/bar/", true},
		{"/foo/{**}/", "/foo//", true},
		{"/foo/{**}/", "/foo/bar", false},
		{"/foo/{**}/", "/foo/bar/baz/", true},
		{"/foo/{*}/bar/{**}", "/foo/buzz/bar/", true},
		{"/foo/{*}/bar/{**}", "/foo/buzz/bar/baz", true},
		{"/foo/{*}/bar/{**}", "/foo/buzz/bar", false},
		{"/foo/{*}/bar/{**}", "/foo/a/b/bar/baz", false},
		{"/{**}", "/", true},
		{"/{**}", "/a/b/c.txt", true},
		{"/api/{*}/items", "/api/v1/items", true},
		{"/api/{*}/items", "/api/v1/items/", false},
		{"/api/{*}/items", "/api/v*1/items", false},
	} {
		t.Run(c.template+"~"+c.path, func(t *testing.T) {
			t.Parallel()
			tmpl, err := compilePathTemplate(c.template)
			if err != nil {
				t.Fatal(err)
			}
			if got := tmpl.match(c.path); got != c.want {
				t.Fatalf("match = %v, want %v", got, c.want)
			}
		})
	}
	for _, bad := range []string{"/*/baz/{*}", "/**/baz/{*}", "/{**}/foo/{*}", "/foo/{*}.txt", "/foo//{*}"} {
		if _, err := compilePathTemplate(bad); err == nil {
			t.Errorf("compilePathTemplate(%q) accepted an invalid template", bad)
		}
	}
}
