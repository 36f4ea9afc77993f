package validation

import (
	"regexp"

	typev1beta1 "istio.io/api/type/v1beta1"
)

// The CRDs cap targetRefs at 16 entries and bound each reference's strings.
const (
	maxTargetRefs        = 16
	maxTargetRefNameLen  = 253
	maxTargetRefGroupLen = 253
	maxTargetRefKindLen  = 63
)

// API groups a security policy's targetRef may name; "" is read as the core group.
const (
	refCoreGroup            = "core"
	refGatewayAPIGroup      = "gateway.networking.k8s.io"
	refIstioNetworkingGroup = "networking.istio.io"
)

const targetRefAllowedKinds = "Service, ServiceEntry (networking.istio.io), Gateway or GatewayClass (gateway.networking.k8s.io)"

var (
	// The CRD's patterns for a reference's group (a DNS subdomain, or empty for core) and kind.
	targetRefGroupRe = regexp.MustCompile(`^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	targetRefKindRe  = regexp.MustCompile(`^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$`)
)

// targetRefKinds are the group/kind pairs a security policy may attach to. Versions are not part
// of a reference. The empty group is the core group.
var targetRefKinds = map[[2]string]bool{
	{refCoreGroup, "Service"}:                 true,
	{refIstioNetworkingGroup, "ServiceEntry"}: true,
	{refGatewayAPIGroup, "Gateway"}:           true,
	{refGatewayAPIGroup, "GatewayClass"}:      true,
}

// validatePolicyTarget checks how AuthorizationPolicy and RequestAuthentication pick the workloads
// they apply to: by selector or by targetRef(s), never both, since the API server refuses a
// policy whose scope would be ambiguous.
func validatePolicyTarget(selector *typev1beta1.WorkloadSelector, targetRef *typev1beta1.PolicyTargetReference,
	targetRefs []*typev1beta1.PolicyTargetReference, r *report,
) {
	set := 0
	for _, present := range []bool{selector != nil, targetRef != nil, len(targetRefs) > 0} {
		if present {
			set++
		}
	}
	if set > 1 {
		r.errorf("spec", "only one of selector, targetRef or targetRefs can be set")
	}
	validatePolicySelector("spec.selector", selector, r)
	if targetRef != nil {
		validateTargetRef("spec.targetRef", targetRef, r)
	}
	if len(targetRefs) > maxTargetRefs {
		r.errorf("spec.targetRefs", "too many targetRefs: %d, at most %d allowed", len(targetRefs), maxTargetRefs)
	}
	for i, ref := range targetRefs {
		if ref == nil {
			r.errorf(path("spec.targetRefs", i), "targetRef must not be null")
			continue
		}
		validateTargetRef(path("spec.targetRefs", i), ref, r)
	}
}

// validatePolicySelector checks a security policy's workload selector, when there is one.
func validatePolicySelector(field string, selector *typev1beta1.WorkloadSelector, r *report) {
	if selector != nil {
		validateWorkloadSelector(field, selector.GetMatchLabels(), r)
	}
}

func validateTargetRef(field string, ref *typev1beta1.PolicyTargetReference, r *report) {
	switch {
	case ref.GetName() == "":
		r.errorf(path(field, "name"), "targetRef name must be set")
	case len(ref.GetName()) > maxTargetRefNameLen:
		r.errorf(path(field, "name"), "targetRef name is longer than %d characters", maxTargetRefNameLen)
	}
	if ref.GetNamespace() != "" {
		r.errorf(path(field, "namespace"), "targetRef namespace must not be set: cross namespace referencing is not supported")
	}
	group, kind := ref.GetGroup(), ref.GetKind()
	if len(group) > maxTargetRefGroupLen || !targetRefGroupRe.MatchString(group) {
		r.errorf(path(field, "group"), "targetRef group %q is not a valid API group", group)
	}
	switch {
	case kind == "":
		r.errorf(path(field, "kind"), "targetRef kind must be set")
		return
	case len(kind) > maxTargetRefKindLen || !targetRefKindRe.MatchString(kind):
		r.errorf(path(field, "kind"), "targetRef kind %q is not a valid kind", kind)
		return
	}
	canonical := group
	if canonical == "" {
		canonical = refCoreGroup
	}
	if !targetRefKinds[[2]string{canonical, kind}] {
		r.errorf(field, "targetRef to %s/%s is not supported: it must be to one of %s", group, kind, targetRefAllowedKinds)
	}
}
