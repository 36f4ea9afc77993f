package validation

import (
	meshconfig "istio.io/api/mesh/v1alpha1"
)

func validateMeshConfig(mc *meshconfig.MeshConfig, r *report) {}
