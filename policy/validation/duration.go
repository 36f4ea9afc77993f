package validation

import (
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
)

// validateDuration applies the rule Istio and the CRDs share for almost every duration field: at
// least 1ms (so "0s" is refused, even where users mean "disabled"), in whole milliseconds because
// Envoy's timers are millisecond-grained. Absent durations are the caller's business.
func validateDuration(field string, d *durationpb.Duration, r *report) {
	if d == nil {
		return
	}
	if err := d.CheckValid(); err != nil {
		r.errorf(field, "invalid duration: %v", err)
		return
	}
	v := d.AsDuration()
	if v < time.Millisecond {
		r.errorf(field, "duration %v must be greater than 1ms", v)
		return
	}
	if v%time.Millisecond != 0 {
		r.errorf(field, "duration %v: only durations to ms precision are supported", v)
	}
}

// validateDurationOrZero is validateDuration for the few fields where zero means "disabled"
// (TCP idleTimeout) and the CRD does not demand 1ms.
func validateDurationOrZero(field string, d *durationpb.Duration, r *report) {
	if d != nil && d.CheckValid() == nil && d.AsDuration() == 0 {
		return
	}
	validateDuration(field, d, r)
}
