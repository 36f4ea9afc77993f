package opa

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// BenchmarkOPACheck is the built-in provider on the JWT-roles policy: input built as an
// ast.Value from the authz.Request, prepared query, decision read from the AST.
func BenchmarkOPACheck(b *testing.B) {
	p := jwtRolesProvider(b)
	r := request("GET", "/books/42", "", "Authorization",
		"Bearer "+token(b, map[string]any{"sub": "alice", "roles": []string{"reader"}}))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if res := p.Check(ctx, r, nil); !res.Allowed {
			b.Fatalf("denied: %+v", res)
		}
	}
}

// BenchmarkOPAPluginStyle does per request what opa-envoy-plugin does with the same policy:
// protojson-marshal the CheckRequest, unmarshal it into a map, add the derived fields, and
// evaluate the prepared query with that input, reading the decision from Go values.
func BenchmarkOPAPluginStyle(b *testing.B) {
	modules, data, err := LoadDir(filepath.Join("testdata", "jwtroles"))
	if err != nil {
		b.Fatal(err)
	}
	opts := []func(*rego.Rego){
		rego.Query("data.envoy.authz.allow"),
		rego.Store(inmem.NewFromObject(data)),
	}
	for name, src := range modules {
		opts = append(opts, rego.Module(name, src))
	}
	pq, err := rego.New(opts...).PrepareForEval(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	r := request("GET", "/books/42", "", "Authorization",
		"Bearer "+token(b, map[string]any{"sub": "alice", "roles": []string{"reader"}}))
	cr := envoyCheckRequest(r, nil, fixedNow, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		input := pluginInput(b, cr)
		rs, err := pq.Eval(ctx, rego.EvalInput(input))
		if err != nil || len(rs) != 1 {
			b.Fatalf("eval: %v %v", rs, err)
		}
		d, _ := rs[0].Expressions[0].Value.(map[string]any)
		if allowed, _ := d["allowed"].(bool); !allowed {
			b.Fatalf("denied: %v", d)
		}
	}
}
