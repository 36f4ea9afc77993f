package gateway

import (
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policy/pathnorm"
)

// pathMode is MeshConfig pathNormalization.normalization. The normalization itself lives in
// policy/pathnorm so that a standalone ext_authz service normalizes exactly as the gateway does.
type pathMode = pathnorm.Mode

// pathNormalization resolves the mesh's mode; DEFAULT is BASE, as in Istio.
func pathNormalization(snap *policy.Snapshot) pathMode { return pathnorm.FromMesh(snap.Mesh) }

// normalizePath normalizes a raw (still percent-encoded) request path without its query; an
// error is answered with 400, as Envoy rejects a path it cannot normalize.
func normalizePath(mode pathMode, raw string) (string, error) { return pathnorm.Normalize(mode, raw) }
