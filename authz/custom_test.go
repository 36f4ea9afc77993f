package authz

import (
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
	security "istio.io/api/security/v1beta1"
)

const meshTwoProviders = `
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    extensionProviders:
    - name: http-authz
      envoyExtAuthzHttp: {service: a.foo.svc.cluster.local, port: 8000}
    - name: grpc-authz
      envoyExtAuthzGrpc: {service: b.foo.svc.cluster.local, port: 9000}
`

func customOn(name, provider, path string) string {
	return `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ` + name + `, namespace: foo}
spec:
  action: CUSTOM
  provider: {name: ` + provider + `}
  rules:
  - to:
    - operation: {paths: ["` + path + `"]}
`
}

func TestCustomProviders(t *testing.T) {
	t.Parallel()
	ready := func(string) bool { return true }
	t.Run("TCP skips an HTTP-only provider, asks a gRPC one", func(t *testing.T) {
		t.Parallel()
		http := newEngine(t, Options{CustomProviderReady: ready}, meshTwoProviders, customOn("c", "http-authz", "/x"))
		if d := http.Check(t.Context(), req(httpbinFoo, tcp)); !d.Allowed || d.CustomProvider != "" {
			t.Fatalf("HTTP provider on TCP: %+v", d)
		}
		grpc := newEngine(t, Options{CustomProviderReady: ready}, meshTwoProviders, customOn("c", "grpc-authz", "/x"))
		// paths are ignored on TCP, so the CUSTOM rule matches every connection.
		if d := grpc.Check(t.Context(), req(httpbinFoo, tcp)); !d.Allowed || d.CustomProvider != "grpc-authz" {
			t.Fatalf("gRPC provider on TCP: %+v", d)
		}
	})
	t.Run("two providers on one workload deny what either matches", func(t *testing.T) {
		t.Parallel()
		e := newEngine(t, Options{CustomProviderReady: ready}, meshTwoProviders,
			customOn("a", "http-authz", "/a"), customOn("b", "grpc-authz", "/b"))
		runChecks(t, e, []check{
			{"a", req(httpbinFoo, path("/a")), forbidden, "istio-ext-authz-ns[foo]-policy[a]-rule[0]-deny-due-to-bad-CUSTOM-action"},
			{"b", req(httpbinFoo, path("/b")), forbidden, "istio-ext-authz-ns[foo]-policy[b]-rule[0]-deny-due-to-bad-CUSTOM-action"},
			{"c", req(httpbinFoo, path("/c")), ok, "-"},
		})
	})
	t.Run("CUSTOM does not bypass DENY", func(t *testing.T) {
		t.Parallel()
		e := newEngine(t, Options{CustomProviderReady: ready}, meshTwoProviders, customOn("c", "http-authz", "/x"), `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny, namespace: foo}
spec:
  action: DENY
  rules:
  - to:
    - operation: {paths: ["/x"]}
`)
		d := e.Check(t.Context(), req(httpbinFoo, path("/x")))
		if d.Allowed || d.CustomProvider != "http-authz" || d.Policy != "ns[foo]-policy[deny]-rule[0]" {
			t.Fatalf("%+v", d)
		}
	})
}

// Compile refuses what validation should have refused, naming the resource and field.
func TestCompileErrors(t *testing.T) {
	t.Parallel()
	bad := &policy.Resource{
		Kind: policy.KindAuthorizationPolicy, Namespace: "foo", Name: "bad",
		Spec: &security.AuthorizationPolicy{Rules: []*security.Rule{{
			From: []*security.Rule_From{{Source: &security.Source{IpBlocks: []string{"10.0.0.0/99"}}}},
		}}},
	}
	_, err := Compile(policy.NewSnapshot(1, []*policy.Resource{bad}, nil, nil, nil, nil), nil)
	if err == nil || !strings.Contains(err.Error(), "AuthorizationPolicy/foo/bad: spec.rules[0].from[0].source.ipBlocks[0]") {
		t.Fatalf("error = %v", err)
	}
}
