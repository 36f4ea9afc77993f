package validation

// asWarnings runs checks whose findings Istio tolerates in this context and reports them as
// warnings, so a shared check (ports, durations, exportTo) keeps one wording whatever the
// severity.
func asWarnings(r *report, check func(*report)) {
	var scratch report
	check(&scratch)
	for _, f := range scratch.findings {
		r.warnf(f.Field, "%s", f.Reason)
	}
}
