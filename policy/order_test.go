package policy

import (
	"testing"
	"time"

	networking "istio.io/api/networking/v1alpha3"
)

func TestOlder(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	res := func(ns, name string, created, seen time.Time) *Resource {
		return &Resource{Kind: KindGateway, Namespace: ns, Name: name, CreationTimestamp: created, FirstSeen: seen}
	}
	tests := []struct {
		name string
		a, b *Resource
		want bool
	}{
		{"creationTimestamp decides", res("z", "z", t0, t0.Add(time.Hour)), res("a", "a", t0.Add(time.Minute), t0), true},
		{"first seen when no creationTimestamp", res("z", "z", time.Time{}, t0), res("a", "a", time.Time{}, t0.Add(time.Second)), true},
		{"creationTimestamp against first seen", res("a", "a", time.Time{}, t0.Add(time.Hour)), res("b", "b", t0, time.Time{}), false},
		{"tie broken by namespace", res("a", "z", t0, t0), res("b", "a", t0, t0), true},
		{"tie broken by name", res("a", "a", t0, t0), res("a", "b", t0, t0), true},
		{"not older than itself", res("a", "a", t0, t0), res("a", "a", t0, t0), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Older(tt.a, tt.b); got != tt.want {
				t.Errorf("Older = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestVisibleFrom(t *testing.T) {
	t.Parallel()
	vs := func(exportTo ...string) *Resource {
		return &Resource{Kind: KindVirtualService, Namespace: "shop", Name: "vs", Spec: &networking.VirtualService{ExportTo: exportTo}}
	}
	mesh := DefaultMeshConfig()
	snap := NewSnapshot(1, nil, mesh, nil, nil, nil)
	dotDefault := DefaultMeshConfig()
	dotDefault.DefaultVirtualServiceExportTo = []string{"."}
	dotSnap := NewSnapshot(1, nil, dotDefault, nil, nil, nil)
	tests := []struct {
		name string
		snap *Snapshot
		r    *Resource
		ns   string
		want bool
	}{
		{"default exports everywhere", snap, vs(), "istio-system", true},
		{"dot is own namespace only", snap, vs("."), "istio-system", false},
		{"dot in own namespace", snap, vs("."), "shop", true},
		{"named namespace", snap, vs("istio-system"), "istio-system", true},
		{"other named namespace", snap, vs("other"), "istio-system", false},
		{"star", snap, vs("*"), "x", true},
		{"tilde hides", snap, vs("~"), "shop", false},
		{"mesh default applies when unset", dotSnap, vs(), "istio-system", false},
		{"explicit beats mesh default", dotSnap, vs("*"), "istio-system", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.snap.VisibleFrom(tt.r, tt.ns); got != tt.want {
				t.Errorf("VisibleFrom = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHosts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, host       string
		matches, intersects bool
	}{
		{"*", "a.example.com", true, true},
		{"a.example.com", "A.Example.com", true, true},
		{"*.example.com", "a.example.com", true, true},
		{"*.example.com", "a.b.example.com", true, true},
		{"*.example.com", "example.com", false, false},
		{"*.example.com", "*.a.example.com", true, true},
		{"*.a.example.com", "*.example.com", false, true},
		{"b.example.com", "a.example.com", false, false},
	}
	for _, tt := range tests {
		if got := HostMatches(tt.pattern, tt.host); got != tt.matches {
			t.Errorf("HostMatches(%q, %q) = %v", tt.pattern, tt.host, got)
		}
		if got := HostsIntersect(tt.pattern, tt.host); got != tt.intersects {
			t.Errorf("HostsIntersect(%q, %q) = %v", tt.pattern, tt.host, got)
		}
	}
	if got := FQDN("reviews", "shop"); got != "reviews.shop.svc.cluster.local" {
		t.Errorf("FQDN = %s", got)
	}
}

func TestGatewayRef(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ref  string
		want string
		ok   bool
	}{
		{"edge", "apps/edge", true},
		{"istio-system/edge", "istio-system/edge", true},
		{"./edge", "apps/edge", true},
		{"edge.istio-system.svc.cluster.local", "istio-system/edge", true},
		{"edge.istio-system", "istio-system/edge", true},
		{"mesh", "/", false},
		{"", "/", false},
	}
	for _, tt := range tests {
		ns, name, ok := GatewayRef("apps", tt.ref)
		if got := ns + "/" + name; got != tt.want || ok != tt.ok {
			t.Errorf("GatewayRef(apps, %q) = %q, %v; want %q, %v", tt.ref, got, ok, tt.want, tt.ok)
		}
	}
}
