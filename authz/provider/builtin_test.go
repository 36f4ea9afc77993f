package provider_test

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/authz/opa"
	"github.com/gatehouse-dev/gatehouse/authz/provider"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// opaConfig is a mesh whose opa-ext-authz provider (an OPA sidecar for Envoy) Gatehouse serves
// in-process, and a CUSTOM policy that sends /api/* to it.
func opaConfig(rego string) string {
	return `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    extensionProviders:
    - name: opa-ext-authz
      envoyExtAuthzGrpc: {service: opa.opa.svc.cluster.local, port: 9191, statusOnError: "503"}
---
apiVersion: gatehouse.dev/v1alpha1
kind: Settings
metadata: {name: gatehouse, namespace: istio-system}
spec:
  opa:
  - provider: opa-ext-authz
    data: {readers: [alice]}
    modules:
      authz.rego: |
` + indent(rego, "        ") + `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext, namespace: foo}
spec:
  action: CUSTOM
  provider: {name: opa-ext-authz}
  rules: [{to: [{operation: {paths: ["/api/*"]}}]}]
`
}

func indent(s, by string) string {
	return by + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+by) + "\n"
}

const readersRego = `package envoy.authz

default allow := false

allow if {
	input.attributes.request.http.method == "GET"
	input.attributes.request.http.headers["x-user"] in data.readers
}
`

func snapshotOf(t *testing.T, yaml string) *policy.Snapshot {
	t.Helper()
	snap, ps := policy.ParseSnapshot(map[string][]byte{"mesh.yaml": []byte(yaml)})
	if snap == nil {
		t.Fatalf("config rejected: %v", ps.Err())
	}
	return snap
}

// countingOPA is opa.Builtin, counting builds.
func countingOPA(n *atomic.Int32) func(provider.BuiltinOPA) (provider.Provider, error) {
	return func(b provider.BuiltinOPA) (provider.Provider, error) {
		n.Add(1)
		return opa.Builtin(b)
	}
}

func fooRequest(method, path, user string) *authz.Request {
	h := http.Header{}
	if user != "" {
		h.Set("X-User", user)
	}
	return &authz.Request{
		Workload: authz.NewWorkload("foo", map[string]string{"app": "api"}),
		HTTP:     true, Method: method, Host: "api.foo", Path: path, Scheme: "http", Header: h,
		Source:   netip.MustParseAddrPort("10.0.0.1:1234"),
		RemoteIP: netip.MustParseAddr("10.0.0.1"),
	}
}

// TestCompileBuiltinOPA: a CUSTOM rule naming a Settings.opa provider is decided by the
// built-in OPA, with the extensionProviders entry's statusOnError.
func TestCompileBuiltinOPA(t *testing.T) {
	t.Parallel()
	snap := snapshotOf(t, opaConfig(readersRego))
	var builds atomic.Int32
	set, errs := provider.Compile(snap.Mesh, provider.Options{OPA: snap.Settings.OPA, NewOPA: countingOPA(&builds)})
	if len(errs) > 0 {
		t.Fatalf("Compile: %v", errs)
	}
	engine := authz.NewEngine(authz.Options{CustomProviderReady: set.Has})
	c, err := authz.Compile(snap, nil)
	if err != nil {
		t.Fatal(err)
	}
	engine.Apply(c)
	for _, tt := range []struct {
		name, method, path, user string
		custom                   bool
		allowed                  bool
	}{
		{"reader GET", "GET", "/api/books", "alice", true, true},
		{"stranger GET", "GET", "/api/books", "mallory", true, false},
		{"reader POST", "POST", "/api/books", "alice", true, false},
		{"not covered", "POST", "/public", "", false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := fooRequest(tt.method, tt.path, tt.user)
			d := engine.Check(t.Context(), r)
			if (d.CustomProvider != "") != tt.custom {
				t.Fatalf("CustomProvider = %q, want custom %v", d.CustomProvider, tt.custom)
			}
			allowed := d.Allowed
			if tt.custom {
				p, ok := set.Lookup(d.CustomProvider)
				if !ok {
					t.Fatalf("no provider %q", d.CustomProvider)
				}
				res := p.Check(t.Context(), r, nil)
				if res.Err != nil {
					t.Fatalf("Check: %v", res.Err)
				}
				allowed = allowed && res.Allowed
				if !res.Allowed && res.Status != http.StatusForbidden {
					t.Errorf("denial status %d, want 403 (the plugin's for allow=false)", res.Status)
				}
			}
			if allowed != tt.allowed {
				t.Errorf("allowed = %v, want %v", allowed, tt.allowed)
			}
		})
	}
	if n := builds.Load(); n != 1 {
		t.Errorf("%d builds, want 1", n)
	}
}

// TestCompileBuiltinOPAKeepsLastGood: an unchanged entry is not rebuilt; a Rego error names
// file:line and the previous provider keeps serving, without recompiling the same broken Rego
// on the next snapshot; an entry naming no provider is not served.
func TestCompileBuiltinOPAKeepsLastGood(t *testing.T) {
	t.Parallel()
	var builds atomic.Int32
	compile := func(snap *policy.Snapshot, prev *provider.Set) (*provider.Set, []error) {
		return provider.Compile(snap.Mesh, provider.Options{OPA: snap.Settings.OPA, NewOPA: countingOPA(&builds), Previous: prev})
	}
	good := snapshotOf(t, opaConfig(readersRego))
	first, errs := compile(good, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p1, _ := first.Lookup("opa-ext-authz")

	again, errs := compile(snapshotOf(t, opaConfig(readersRego)), first)
	if p, _ := again.Lookup("opa-ext-authz"); len(errs) > 0 || p != p1 || builds.Load() != 1 {
		t.Fatalf("unchanged entry rebuilt: errs %v, same %v, builds %d", errs, p == p1, builds.Load())
	}

	broken := snapshotOf(t, opaConfig("package envoy.authz\n\nallow if undefined_fn(input.x)\n"))
	for i := range 2 {
		set, errs := compile(broken, again)
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), "authz.rego:3") || !errors.Is(errs[0], provider.ErrKeptPrevious) {
			t.Fatalf("round %d: errs = %v, want one naming authz.rego:3 that keeps the previous provider", i, errs)
		}
		if p, _ := set.Lookup("opa-ext-authz"); p != p1 {
			t.Fatalf("round %d: the previous good provider is not serving", i)
		}
		again = set
	}
	if n := builds.Load(); n != 2 {
		t.Errorf("%d builds, want 2 (the broken Rego compiled once)", n)
	}

	unknown := snapshotOf(t, strings.Replace(opaConfig(readersRego), "provider: opa-ext-authz", "provider: nobody", 1))
	set, errs := compile(unknown, nil)
	if len(errs) > 0 || set.Has("nobody") {
		t.Errorf("unknown provider: errs %v, served %v", errs, set.Has("nobody"))
	}
	if !set.Has("opa-ext-authz") {
		t.Errorf("opa-ext-authz without a Settings.opa entry is no longer the remote provider")
	}
}
