package authz

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// benchPolicies is 100 policies on the ingress workload: 10 DENY and 90 ALLOW that a request to
// /svc-89/items does not match, the ALLOW that matches it sorting last.
func benchPolicies() []string {
	var docs []string
	for i := range 100 {
		action, paths := "ALLOW", fmt.Sprintf("/svc-%02d/*", i-10)
		if i < 10 {
			action, paths = "DENY", fmt.Sprintf("/blocked-%02d/*", i)
		}
		docs = append(docs, fmt.Sprintf(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p%03d, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: %s
  rules:
  - from:
    - source: {notIpBlocks: ["192.0.2.0/24"], namespaces: ["*"]}
    to:
    - operation: {methods: ["GET", "HEAD"], paths: [%q], hosts: ["*.example.com", "example.com:*"]}
    when:
    - key: request.headers[x-tenant]
      values: ["t-%d", "shared"]
`, i, action, paths, i))
	}
	return docs
}

func BenchmarkCheck(b *testing.B) {
	e := NewEngine(Options{})
	if err := e.Register(ingress); err != nil {
		b.Fatal(err)
	}
	e.Apply(compileDocs(b, benchPolicies()...))
	r := req(ingress, host("api.example.com"), path("/svc-89/items"), header("x-tenant", "shared"),
		peer("cluster.local/ns/web/sa/frontend"))
	ctx := context.Background()
	if d := e.Check(ctx, r); !d.Allowed || !strings.HasSuffix(d.Policy, "p099]-rule[0]") {
		b.Fatalf("benchmark request not allowed by the last policy: %+v", d)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if d := e.Check(ctx, r); !d.Allowed {
			b.Fatal("denied")
		}
	}
}

func TestCheckDoesNotAllocate(t *testing.T) {
	e := NewEngine(Options{})
	e.Apply(compileDocs(t, benchPolicies()...))
	r := req(ingress, host("api.example.com"), path("/svc-89/items"), header("x-tenant", "shared"),
		peer("cluster.local/ns/web/sa/frontend"))
	ctx := context.Background()
	e.Check(ctx, r) // builds the workload set
	if n := testing.AllocsPerRun(100, func() { e.Check(ctx, r) }); n != 0 {
		t.Fatalf("Check allocates %v times per request without a JWT", n)
	}
}

// BenchmarkCheckJWT is BenchmarkCheck with a RequestAuthentication and a bearer token that the
// verified-token cache already holds.
func BenchmarkCheckJWT(b *testing.B) {
	iss := jwtIssuer(b)
	e := NewEngine(Options{})
	e.Apply(compileDocs(b, append(benchPolicies(), iss.requestAuthn("istio-system", "https://issuer.test"))...))
	r := req(ingress, host("api.example.com"), path("/svc-89/items"), header("x-tenant", "shared"),
		peer("cluster.local/ns/web/sa/frontend"), bearer(iss.token(b, map[string]any{"iss": "https://issuer.test", "sub": "alice"})))
	ctx := context.Background()
	if d := e.Check(ctx, r); !d.Allowed || d.Identity == nil {
		b.Fatalf("benchmark request not allowed with an identity: %+v", d)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if d := e.Check(ctx, r); !d.Allowed {
			b.Fatal("denied")
		}
	}
}
