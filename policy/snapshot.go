package policy

import (
	"slices"

	meshconfig "istio.io/api/mesh/v1alpha1"
)

// Snapshot is one complete, validated view of the config. It is immutable once published:
// components compile it into their own runtime tables and never modify it.
type Snapshot struct {
	// Version increases by one with every snapshot a source publishes.
	Version uint64
	// Mesh is the effective MeshConfig: the `istio` ConfigMap's `mesh` key over Istio's defaults.
	Mesh *meshconfig.MeshConfig
	// Settings is the effective Gatehouse Settings: the oldest Settings resource over defaults.
	Settings *Settings
	// Warnings are the non-fatal problems found when this snapshot was built.
	Warnings Problems

	all    []*Resource
	byKind map[Kind][]*Resource
	// credentials holds "namespace/name" of every Secret the sources know. Only names: Secret data
	// never enters a Snapshot.
	credentials map[string]bool
}

// NewSnapshot indexes resources (oldest first within each kind). A nil mesh or settings gets the
// defaults. Sources use it; tests use it to build snapshots without files.
func NewSnapshot(version uint64, resources []*Resource, mesh *meshconfig.MeshConfig, settings *Settings, credentials []string, warnings Problems) *Snapshot {
	if mesh == nil {
		mesh = DefaultMeshConfig()
	}
	if settings == nil {
		settings = DefaultSettings()
	}
	s := &Snapshot{
		Version:     version,
		Mesh:        mesh,
		Settings:    settings,
		Warnings:    warnings,
		all:         slices.Clone(resources),
		byKind:      map[Kind][]*Resource{},
		credentials: map[string]bool{},
	}
	SortOldestFirst(s.all)
	for _, r := range s.all {
		s.byKind[r.Kind] = append(s.byKind[r.Kind], r)
	}
	for _, c := range credentials {
		s.credentials[c] = true
	}
	return s
}

// List returns the resources of one kind, oldest first (ties by namespace/name). The slice is
// shared: callers must not modify it.
func (s *Snapshot) List(k Kind) []*Resource { return s.byKind[k] }

// Resources returns every resource, oldest first.
func (s *Snapshot) Resources() []*Resource { return s.all }

// HasCredential reports whether a Secret namespace/name is known to the sources.
func (s *Snapshot) HasCredential(namespace, name string) bool {
	return s.credentials[namespace+"/"+name]
}

// Credentials lists the known Secret names as "namespace/name", sorted.
func (s *Snapshot) Credentials() []string {
	out := make([]string, 0, len(s.credentials))
	for c := range s.credentials {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// RootNamespace is MeshConfig rootNamespace: policies there are mesh-wide.
func (s *Snapshot) RootNamespace() string { return s.Mesh.GetRootNamespace() }

// DefaultMeshConfig returns Istio's defaults for the MeshConfig fields Gatehouse reads.
func DefaultMeshConfig() *meshconfig.MeshConfig {
	return &meshconfig.MeshConfig{
		RootNamespace:                  "istio-system",
		TrustDomain:                    "cluster.local",
		DefaultServiceExportTo:         []string{"*"},
		DefaultVirtualServiceExportTo:  []string{"*"},
		DefaultDestinationRuleExportTo: []string{"*"},
	}
}
