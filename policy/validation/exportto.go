package validation

// exportTo values with a meaning of their own; anything else must be a namespace name.
const (
	exportPrivate = "."
	exportPublic  = "*"
	exportNone    = "~"
)

// exportToRules: how a kind's exportTo may differ from the common rules.
type exportToRules struct {
	// allowNone: ServiceEntry may use "~" (visible only to its own workloads).
	allowNone bool
	// selectorScoped: a DestinationRule with a workloadSelector applies only in its own namespace.
	selectorScoped bool
}

// validateExportTo checks exportTo as Istio does: no duplicates ("." and the own namespace are the
// same entry), "*" and "~" stand alone, and every other entry is a namespace name.
func validateExportTo(field string, namespace string, exportTo []string, rules exportToRules, r *report) {
	if len(exportTo) == 0 {
		return
	}
	seen := map[string]bool{}
	for i, e := range exportTo {
		f := path(field, i)
		key := e
		if e == exportPrivate {
			key = namespace
		}
		switch {
		case seen[key] && key != e:
			r.errorf(f, "duplicate entries in exportTo: . and current namespace %s", namespace)
			continue
		case seen[key]:
			r.errorf(f, "duplicate entries in exportTo for entry %s", e)
			continue
		case e == exportNone && !rules.allowNone:
			r.errorf(f, "exportTo ~ (none) is not allowed for this kind")
			continue
		case e != exportPublic && e != exportNone && e != exportPrivate && !isDNS1123Label(e):
			r.errorf(f, "only ., *, ~ or a valid namespace name (DNS-1123 label) is allowed as exportTo entry, got %q", e)
			continue
		}
		seen[key] = true
	}
	if rules.selectorScoped && len(seen) > 0 {
		if !seen[namespace] {
			r.errorf(field, "destination rule with workload selector cannot have exportTo beyond current namespace")
		} else if len(seen) > 1 {
			r.errorf(field, "destination rule with workload selector cannot have multiple entries in exportTo")
		}
	}
	if seen[exportPublic] && len(exportTo) > 1 {
		r.errorf(field, "cannot have both public (*) and non-public exportTo values for a resource")
	}
	if seen[exportNone] && len(exportTo) > 1 {
		r.errorf(field, "cannot export service entry to no one (~) and someone")
	}
}

// namespaceOf is the namespace a resource lives in; like kubectl, none means "default".
func namespaceOf(meta Meta) string {
	if meta.Namespace == "" {
		return "default"
	}
	return meta.Namespace
}
