package gateway

import (
	meshconfig "istio.io/api/mesh/v1alpha1"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// forwardClientCertMode resolves MeshConfig defaultConfig.gatewayTopology.forwardClientCertDetails
// as Istio does for gateways: UNDEFINED is SANITIZE_SET.
func forwardClientCertMode(snap *policy.Snapshot) string {
	m := snap.Mesh.GetDefaultConfig().GetGatewayTopology().GetForwardClientCertDetails()
	if m == meshconfig.ForwardClientCertDetails_UNDEFINED {
		m = meshconfig.ForwardClientCertDetails_SANITIZE_SET
	}
	return m.String()
}
