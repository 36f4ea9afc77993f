package validation

import (
	networking "istio.io/api/networking/v1alpha3"
)

func validateDestinationRule(meta Meta, dr *networking.DestinationRule, r *report) {
	ns := namespaceOf(meta)
	validateWildcardDomain("spec.host", dr.GetHost(), r)
	validateTrafficPolicy("spec.trafficPolicy", ns, dr.GetTrafficPolicy(), r)
	names := map[string]bool{}
	for i, s := range dr.GetSubsets() {
		f := path("spec.subsets", i)
		if s == nil {
			r.errorf(f, "subset may not be null")
			continue
		}
		if names[s.GetName()] {
			r.errorf(path(f, "name"), "duplicate subset names: %s", s.GetName())
		}
		names[s.GetName()] = true
		validateSubsetName(path(f, "name"), s.GetName(), r)
		validateLabels(path(f, "labels"), s.GetLabels(), r)
		validateTrafficPolicy(path(f, "trafficPolicy"), ns, s.GetTrafficPolicy(), r)
	}
	validateExportTo("spec.exportTo", ns, dr.GetExportTo(), exportToRules{selectorScoped: dr.GetWorkloadSelector() != nil}, r)
	if ws := dr.GetWorkloadSelector(); ws != nil {
		validateWorkloadSelector("spec.workloadSelector", ws.GetMatchLabels(), r)
	}
}
