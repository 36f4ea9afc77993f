// Package posture decides a workload's mTLS posture: the PeerAuthentication mode it enforces on
// each inbound port. It is a pure function of a policy snapshot and the workload's identity
// (namespace and labels), so the xDS builder (ca/meshxds) and the built-in sidecar agree on the
// mode by construction.
//
// The merge follows istiod (pilot/pkg/security/authn ComposePeerAuthentication) so that users'
// Istio YAML means the same here as in an Istio mesh.
package posture
