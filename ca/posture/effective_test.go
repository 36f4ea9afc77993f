package posture

import (
	"maps"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// mustSnapshot parses YAML documents into a snapshot, failing the test on any error.
func mustSnapshot(t *testing.T, yaml string) *policy.Snapshot {
	t.Helper()
	snap, ps := policy.ParseSnapshot(map[string][]byte{"config.yaml": []byte(yaml)})
	if snap == nil {
		t.Fatalf("config does not load:\n%v", ps)
	}
	return snap
}

// Policies reused across cases. Timestamps make the age order explicit; resources without one
// tie at the zero time and fall back to name order.
const (
	meshStrict = `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
`
	nsDisable = `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec: {mtls: {mode: DISABLE}}
`
	nsUnset = `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec: {}
`
	workloadPermissive = `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: cart, namespace: shop}
spec:
  selector: {matchLabels: {app: cart}}
  mtls: {mode: PERMISSIVE}
`
)

var cart = Workload{Namespace: "shop", Labels: map[string]string{"app": "cart", "version": "v1"}}

func TestEffective(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		config string
		w      Workload
		want   Policy
	}{
		{
			name: "no policy is the mesh default PERMISSIVE",
			w:    cart,
			want: Policy{Default: Permissive},
		},
		{
			name:   "mesh level applies to every namespace",
			config: meshStrict,
			w:      Workload{Namespace: "other"},
			want:   Policy{Default: Strict},
		},
		{
			name:   "namespace level overrides mesh",
			config: meshStrict + "---" + nsDisable,
			w:      cart,
			want:   Policy{Default: Disable},
		},
		{
			name:   "workload level overrides namespace and mesh",
			config: meshStrict + "---" + nsDisable + "---" + workloadPermissive,
			w:      cart,
			want:   Policy{Default: Permissive},
		},
		{
			name:   "namespace UNSET inherits mesh",
			config: meshStrict + "---" + nsUnset,
			w:      cart,
			want:   Policy{Default: Strict},
		},
		{
			name: "mesh UNSET is PERMISSIVE",
			config: `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {}}
`,
			w:    cart,
			want: Policy{Default: Permissive},
		},
		{
			name: "workload UNSET inherits namespace",
			config: nsDisable + `---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: cart, namespace: shop}
spec:
  selector: {matchLabels: {app: cart}}
  portLevelMtls: {8080: {mode: STRICT}}
`,
			w:    cart,
			want: Policy{Default: Disable, Ports: map[uint32]Mode{8080: Strict}},
		},
		{
			name: "UNSET at every level inherits through to mesh",
			config: meshStrict + "---" + nsUnset + `---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: cart, namespace: shop}
spec:
  selector: {matchLabels: {app: cart}}
  mtls: {mode: UNSET}
  portLevelMtls: {9000: {mode: DISABLE}}
`,
			w:    cart,
			want: Policy{Default: Strict, Ports: map[uint32]Mode{9000: Disable}},
		},
		{
			name: "port overrides and UNSET port inherits the workload's resolved mode",
			config: meshStrict + `---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: cart, namespace: shop}
spec:
  selector: {matchLabels: {app: cart}}
  portLevelMtls:
    8080: {mode: PERMISSIVE}
    8443: {mode: DISABLE}
    9090: {mode: UNSET}
`,
			w:    cart,
			want: Policy{Default: Strict, Ports: map[uint32]Mode{8080: Permissive, 8443: Disable, 9090: Strict}},
		},
		{
			name: "oldest mesh policy wins by creationTimestamp",
			config: `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: aaa-newer, namespace: istio-system, creationTimestamp: "2025-06-01T00:00:00Z"}
spec: {mtls: {mode: DISABLE}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: zzz-older, namespace: istio-system, creationTimestamp: "2024-01-01T00:00:00Z"}
spec: {mtls: {mode: STRICT}}
`,
			w:    cart,
			want: Policy{Default: Strict},
		},
		{
			name: "oldest namespace policy wins, even when it is UNSET",
			config: meshStrict + `---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: older, namespace: shop, creationTimestamp: "2024-01-01T00:00:00Z"}
spec: {}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: newer, namespace: shop, creationTimestamp: "2025-01-01T00:00:00Z"}
spec: {mtls: {mode: DISABLE}}
`,
			w:    cart,
			want: Policy{Default: Strict},
		},
		{
			name: "same creationTimestamp: the first name wins",
			config: `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: b-disable, namespace: shop, creationTimestamp: "2024-01-01T00:00:00Z"}
spec: {mtls: {mode: DISABLE}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: a-strict, namespace: shop, creationTimestamp: "2024-01-01T00:00:00Z"}
spec: {mtls: {mode: STRICT}}
`,
			w:    cart,
			want: Policy{Default: Strict},
		},
		{
			name: "oldest matching workload policy wins, ports and all",
			config: `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: by-version, namespace: shop, creationTimestamp: "2025-01-01T00:00:00Z"}
spec:
  selector: {matchLabels: {version: v1}}
  mtls: {mode: DISABLE}
  portLevelMtls: {8080: {mode: PERMISSIVE}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: by-app, namespace: shop, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  selector: {matchLabels: {app: cart}}
  mtls: {mode: STRICT}
`,
			w:    cart,
			want: Policy{Default: Strict},
		},
		{
			name: "a non-matching older workload policy does not shadow a matching one",
			config: `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: old, namespace: shop, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  selector: {matchLabels: {app: cart, version: v2}}
  mtls: {mode: DISABLE}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: new, namespace: shop, creationTimestamp: "2025-01-01T00:00:00Z"}
spec:
  selector: {matchLabels: {app: cart}}
  mtls: {mode: STRICT}
`,
			w:    cart,
			want: Policy{Default: Strict},
		},
		{
			name:   "selector that does not match falls back to the namespace",
			config: nsDisable + "---" + workloadPermissive,
			w:      Workload{Namespace: "shop", Labels: map[string]string{"app": "checkout"}},
			want:   Policy{Default: Disable},
		},
		{
			name:   "workload without labels is not selected",
			config: meshStrict + "---" + workloadPermissive,
			w:      Workload{Namespace: "shop"},
			want:   Policy{Default: Strict},
		},
		{
			name: "empty matchLabels is namespace level",
			config: meshStrict + `---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: all, namespace: shop}
spec:
  selector: {matchLabels: {}}
  mtls: {mode: DISABLE}
`,
			w:    Workload{Namespace: "shop"},
			want: Policy{Default: Disable},
		},
		{
			name:   "another namespace's policies do not apply",
			config: meshStrict + "---" + nsDisable + "---" + workloadPermissive,
			w:      Workload{Namespace: "billing", Labels: map[string]string{"app": "cart"}},
			want:   Policy{Default: Strict},
		},
		{
			name: "a selector in the root namespace is ignored, as istiod does",
			config: meshStrict + `---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: cart, namespace: istio-system}
spec:
  selector: {matchLabels: {app: cart}}
  mtls: {mode: DISABLE}
`,
			w:    Workload{Namespace: "istio-system", Labels: map[string]string{"app": "cart"}},
			want: Policy{Default: Strict},
		},
		{
			name:   "a workload in the root namespace gets the mesh level",
			config: meshStrict,
			w:      Workload{Namespace: "istio-system"},
			want:   Policy{Default: Strict},
		},
		{
			name: "root namespace from MeshConfig",
			config: `
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    rootNamespace: mesh-root
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: mesh-root}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: DISABLE}}
`,
			w:    cart,
			want: Policy{Default: Strict},
		},
		{
			name: "istio-system is an ordinary namespace when it is not the root",
			config: `
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    rootNamespace: mesh-root
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: DISABLE}}
`,
			w:    Workload{Namespace: "istio-system"},
			want: Policy{Default: Disable},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Effective(mustSnapshot(t, tt.config), tt.w)
			if got.Default != tt.want.Default || !maps.Equal(got.Ports, tt.want.Ports) {
				t.Errorf("Effective = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestEffectiveNilSnapshot(t *testing.T) {
	t.Parallel()
	if got := Effective(nil, cart); got.Default != Permissive || got.Ports != nil {
		t.Errorf("Effective(nil) = %+v, want the PERMISSIVE mesh default", got)
	}
}

func TestPolicyFor(t *testing.T) {
	t.Parallel()
	p := Policy{Default: Strict, Ports: map[uint32]Mode{8080: Permissive}}
	tests := []struct {
		port uint32
		want Mode
	}{
		{8080, Permissive},
		{9090, Strict},
		{0, Strict},
	}
	for _, tt := range tests {
		if got := p.For(tt.port); got != tt.want {
			t.Errorf("For(%d) = %s, want %s", tt.port, got, tt.want)
		}
	}
	if got := (Policy{Default: Disable}).For(80); got != Disable {
		t.Errorf("For with no overrides = %s, want DISABLE", got)
	}
}
