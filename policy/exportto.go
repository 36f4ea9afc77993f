package policy

import (
	networking "istio.io/api/networking/v1alpha3"
)

// VisibleFrom reports whether r may be used by a proxy in namespace ns, per its exportTo (or the
// MeshConfig default for its kind when exportTo is empty): "*" is every namespace, "." the
// resource's own, "~" none, anything else a namespace name. Kinds without exportTo are visible
// everywhere.
func (s *Snapshot) VisibleFrom(r *Resource, ns string) bool {
	var exportTo []string
	switch spec := r.Spec.(type) {
	case *networking.VirtualService:
		exportTo = spec.GetExportTo()
		if len(exportTo) == 0 {
			exportTo = s.Mesh.GetDefaultVirtualServiceExportTo()
		}
	case *networking.DestinationRule:
		exportTo = spec.GetExportTo()
		if len(exportTo) == 0 {
			exportTo = s.Mesh.GetDefaultDestinationRuleExportTo()
		}
	case *networking.ServiceEntry:
		exportTo = spec.GetExportTo()
		if len(exportTo) == 0 {
			exportTo = s.Mesh.GetDefaultServiceExportTo()
		}
	default:
		return true
	}
	if len(exportTo) == 0 {
		return true
	}
	for _, e := range exportTo {
		switch e {
		case "*":
			return true
		case ".":
			if r.Namespace == ns {
				return true
			}
		case "~":
			return false
		default:
			if e == ns {
				return true
			}
		}
	}
	return false
}
