package validation

import (
	"maps"
	"slices"
	"strconv"

	security "istio.io/api/security/v1beta1"
)

func validatePeerAuthentication(meta Meta, pa *security.PeerAuthentication, r *report) {
	validateNoDryRun(meta, r)
	validatePolicySelector("spec.selector", pa.GetSelector(), r)

	// Port-level modes only make sense for known workloads: a mesh- or namespace-wide policy
	// cannot know which port numbers its workloads listen on.
	if pa.PortLevelMtls != nil && len(pa.PortLevelMtls) == 0 {
		r.errorf("spec.portLevelMtls", "portLevelMtls, when present, must have at least one port")
	}
	if len(pa.GetPortLevelMtls()) > 0 && len(pa.GetSelector().GetMatchLabels()) == 0 {
		r.errorf("spec.portLevelMtls", "portLevelMtls requires selector: a mesh- or namespace-wide PeerAuthentication cannot set port level mTLS")
	}
	for _, port := range slices.Sorted(maps.Keys(pa.GetPortLevelMtls())) {
		f := keyPath("spec.portLevelMtls", strconv.FormatUint(uint64(port), 10))
		if port == 0 || port > 65535 {
			r.errorf(f, "port must be between 1 and 65535, got %d", port)
		}
		if pa.PortLevelMtls[port].GetMode() == security.PeerAuthentication_MutualTLS_UNSET {
			r.warnf(path(f, "mode"), "mode is UNSET: the port inherits the workload's mode, so this entry has no effect")
		}
	}

	// UNSET means "inherit from the parent policy". With no port-level override either, the
	// policy decides nothing for its workloads.
	if pa.GetMtls().GetMode() == security.PeerAuthentication_MutualTLS_UNSET && len(pa.GetPortLevelMtls()) == 0 {
		f := "spec.mtls.mode"
		if pa.GetMtls() == nil {
			f = "spec.mtls"
		}
		r.warnf(f, "mtls mode is UNSET and no portLevelMtls is set: workloads inherit the namespace or mesh mode (PERMISSIVE when none is set)")
	}
}
