package authz

import (
	"slices"

	typev1beta1 "istio.io/api/type/v1beta1"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// gatewayNameLabel is set by Istio's Gateway API deployment controller on the pods of a Gateway; a
// targetRef of kind Gateway selects workloads by it.
const gatewayNameLabel = "gateway.networking.k8s.io/gateway-name"

// Target reference group/kind pairs that can select a Gatehouse workload.
const (
	groupGatewayAPI = "gateway.networking.k8s.io"
	kindGateway     = "Gateway"
	kindService     = "Service"
)

// scope is how an AuthorizationPolicy or RequestAuthentication picks its workloads.
type scope struct {
	namespace string
	selector  *typev1beta1.WorkloadSelector
	refs      []*typev1beta1.PolicyTargetReference
}

func newScope(r *policy.Resource, selector *typev1beta1.WorkloadSelector, ref *typev1beta1.PolicyTargetReference,
	refs []*typev1beta1.PolicyTargetReference,
) scope {
	s := scope{namespace: r.Namespace, selector: selector, refs: refs}
	if len(s.refs) == 0 && ref != nil {
		s.refs = []*typev1beta1.PolicyTargetReference{ref}
	}
	return s
}

// selects follows Istio's WorkloadPolicyMatcher.ShouldAttachPolicy for a gateway:
//   - only policies in the root namespace or the workload's namespace apply;
//   - without targetRefs, the selector decides (none: every workload of the namespace, or of the
//     mesh for the root namespace);
//   - with targetRefs the selector is ignored (the API refuses both), the policy must be in the
//     workload's own namespace (so a root-namespace policy with targetRefs is not mesh-wide), and
//     one reference must name the workload: kind Gateway (gateway.networking.k8s.io) by the
//     gateway-name label, or kind Service (core) by one of the workload's Services.
//
// Istio attaches Service references only to waypoints; Gatehouse also attaches them to the
// gateway's own Services, since that is how a gateway without Gateway API is named.
func (s scope) selects(w *Workload, rootNamespace string) bool {
	if s.namespace != w.Namespace && s.namespace != rootNamespace {
		return false
	}
	if len(s.refs) == 0 {
		return policy.SelectorMatches(s.selector.GetMatchLabels(), w.Labels)
	}
	if s.namespace != w.Namespace {
		return false
	}
	for _, ref := range s.refs {
		if ref.GetNamespace() != "" && ref.GetNamespace() != w.Namespace {
			continue
		}
		switch {
		case ref.GetKind() == kindGateway && ref.GetGroup() == groupGatewayAPI:
			if name, ok := w.Labels[gatewayNameLabel]; ok && name == ref.GetName() {
				return true
			}
		case ref.GetKind() == kindService && (ref.GetGroup() == "" || ref.GetGroup() == "core"):
			if slices.Contains(w.Services, ref.GetName()) {
				return true
			}
		}
	}
	return false
}
