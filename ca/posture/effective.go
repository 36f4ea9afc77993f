package posture

import (
	security "istio.io/api/security/v1beta1"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// Workload is what PeerAuthentication selects on: the workload's namespace and its labels.
type Workload struct {
	Namespace string
	Labels    map[string]string
}

// Effective merges the snapshot's PeerAuthentications for w exactly as Istio does: mesh (root namespace, no selector)
// → namespace (no selector) → workload (selector matches) → port (portLevelMtls, workload-level only); within a level
// the oldest wins (creationTimestamp, then name); UNSET inherits; the mesh default is PERMISSIVE.
//
// As in istiod, a policy with a selector in the root namespace is ignored (it is neither mesh- nor
// workload-level), and a workload in the root namespace has only the mesh level. A nil snapshot
// yields the mesh default.
func Effective(snap *policy.Snapshot, w Workload) Policy {
	out := Policy{Default: Permissive}
	if snap == nil {
		return out
	}
	mesh, namespace, workload := levels(snap, w)
	for _, pa := range []*security.PeerAuthentication{mesh, namespace, workload} {
		if m, ok := modeOf(pa.GetMtls()); ok {
			out.Default = m
		}
	}
	// Istio reads portLevelMtls only from the workload-level policy: a mesh- or namespace-wide
	// policy cannot know the port numbers of the workloads it covers (validation rejects it).
	if ports := workload.GetPortLevelMtls(); len(ports) > 0 {
		out.Ports = make(map[uint32]Mode, len(ports))
		for port, mtls := range ports {
			m, ok := modeOf(mtls)
			if !ok {
				m = out.Default // UNSET port inherits the workload's resolved mode
			}
			out.Ports[port] = m
		}
	}
	return out
}

// levels picks the one PeerAuthentication of each level that applies to w (nil when none). The
// snapshot lists resources oldest first with ties by name within a namespace, which is istiod's
// order (creationTimestamp, then name), so the first match of a level is the one that wins.
func levels(snap *policy.Snapshot, w Workload) (mesh, namespace, workload *security.PeerAuthentication) {
	root := snap.RootNamespace()
	for _, r := range snap.List(policy.KindPeerAuthentication) {
		pa, ok := r.Spec.(*security.PeerAuthentication)
		if !ok {
			continue
		}
		// An empty matchLabels selects every workload, so Istio counts it as no selector.
		wide := len(pa.GetSelector().GetMatchLabels()) == 0
		switch {
		case wide && r.Namespace == root:
			if mesh == nil {
				mesh = pa
			}
		case r.Namespace != w.Namespace:
			// Another namespace's policies never reach w.
		case wide:
			if namespace == nil {
				namespace = pa
			}
		case r.Namespace != root && policy.SelectorMatches(pa.GetSelector().GetMatchLabels(), w.Labels):
			if workload == nil {
				workload = pa
			}
		}
	}
	return mesh, namespace, workload
}
