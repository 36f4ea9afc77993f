package authz

import "testing"

func TestSelection(t *testing.T) {
	t.Parallel()
	gw := NewWorkload("edge", map[string]string{"gateway.networking.k8s.io/gateway-name": "public", "app": "gw"}, "public-svc")
	e := newEngine(t, Options{}, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: by-gateway, namespace: edge}
spec:
  targetRefs:
  - {kind: Gateway, group: gateway.networking.k8s.io, name: public}
  action: DENY
  rules:
  - to:
    - operation: {paths: ["/gw"]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: by-other-gateway, namespace: edge}
spec:
  targetRef: {kind: Gateway, group: gateway.networking.k8s.io, name: private}
  action: DENY
  rules:
  - to:
    - operation: {paths: ["/private"]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: by-service, namespace: edge}
spec:
  targetRef: {kind: Service, group: "", name: public-svc}
  action: DENY
  rules:
  - to:
    - operation: {paths: ["/svc"]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: root-target, namespace: istio-system}
spec:
  targetRef: {kind: Gateway, group: gateway.networking.k8s.io, name: public}
  action: DENY
  rules:
  - to:
    - operation: {paths: ["/root-target"]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: root-wide, namespace: istio-system}
spec:
  action: DENY
  rules:
  - to:
    - operation: {paths: ["/root-wide"]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ns-wide, namespace: edge}
spec:
  action: DENY
  rules:
  - to:
    - operation: {paths: ["/ns-wide"]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: selector, namespace: edge}
spec:
  selector: {matchLabels: {app: gw}}
  action: DENY
  rules:
  - to:
    - operation: {paths: ["/selector"]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: elsewhere, namespace: other}
spec:
  action: DENY
  rules:
  - to:
    - operation: {paths: ["/elsewhere"]}
`)
	plain := NewWorkload("edge", map[string]string{"app": "gw"})
	runChecks(t, e, []check{
		{"Gateway targetRef", req(gw, path("/gw")), forbidden, "ns[edge]-policy[by-gateway]-rule[0]"},
		{"other Gateway targetRef", req(gw, path("/private")), ok, "-"},
		{"Service targetRef", req(gw, path("/svc")), forbidden, "ns[edge]-policy[by-service]-rule[0]"},
		{"root-namespace policy with targetRef is not mesh-wide", req(gw, path("/root-target")), ok, "-"},
		{"root-namespace policy without selector is mesh-wide", req(gw, path("/root-wide")), forbidden, "ns[istio-system]-policy[root-wide]-rule[0]"},
		{"namespace-wide", req(gw, path("/ns-wide")), forbidden, ""},
		{"selector", req(gw, path("/selector")), forbidden, ""},
		{"other namespace", req(gw, path("/elsewhere")), ok, "-"},
		{"targetRef needs the gateway-name label", req(plain, path("/gw")), ok, "-"},
		{"targetRef Service needs the service", req(plain, path("/svc")), ok, "-"},
	})
}

// Envoy reports the first matching policy ID in name order, root-namespace DENY policies first.
func TestMatchedPolicyOrder(t *testing.T) {
	t.Parallel()
	e := newEngine(t, Options{}, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: b, namespace: foo}
spec:
  action: DENY
  rules:
  - {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: a, namespace: foo}
spec:
  action: DENY
  rules:
  - to:
    - operation: {paths: ["/a"]}
  - {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: z, namespace: istio-system}
spec:
  action: DENY
  rules:
  - to:
    - operation: {paths: ["/z"]}
`)
	runChecks(t, e, []check{
		{"a rule 1", req(httpbinFoo), forbidden, "ns[foo]-policy[a]-rule[1]"},
		{"a rule 0", req(httpbinFoo, path("/a")), forbidden, "ns[foo]-policy[a]-rule[0]"},
		{"root first", req(httpbinFoo, path("/z")), forbidden, "ns[istio-system]-policy[z]-rule[0]"},
	})
}

func TestWorkloadCacheAndRegister(t *testing.T) {
	t.Parallel()
	c := compileDocs(t, `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nothing, namespace: foo}
spec: {}
`)
	e := NewEngine(Options{})
	if d := e.Check(t.Context(), req(httpbinFoo)); d.Allowed || d.Status != 503 {
		t.Fatalf("before Apply: %+v, want 503", d)
	}
	if err := e.Register(httpbinFoo); err != nil {
		t.Fatal(err)
	}
	e.Apply(c)
	if n := c.cached(); n != 1 {
		t.Fatalf("registered workload not built eagerly: %d sets cached", n)
	}
	same := NewWorkload("foo", map[string]string{"version": "v1", "app": "httpbin"})
	if d := e.Check(t.Context(), req(same)); d.Allowed {
		t.Fatalf("%+v", d)
	}
	if n := c.cached(); n != 1 {
		t.Fatalf("same labels built a second set: %d", n)
	}
	if d := e.Check(t.Context(), &Request{HTTP: true}); d.Allowed {
		t.Fatalf("nil workload allowed: %+v", d)
	}
}
