package validation

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
)

func TestValidateDuration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		d      *durationpb.Duration
		orZero string // reason from validateDurationOrZero, "" for none
		reason string // reason from validateDuration, "" for none
	}{
		{"absent", nil, "", ""},
		{"1ms", durationpb.New(time.Millisecond), "", ""},
		{"1h", durationpb.New(time.Hour), "", ""},
		{"zero", durationpb.New(0), "", "greater than 1ms"},
		{"sub-ms", durationpb.New(500 * time.Microsecond), "greater than 1ms", "greater than 1ms"},
		{"negative", durationpb.New(-time.Second), "greater than 1ms", "greater than 1ms"},
		{"ms precision", durationpb.New(1500 * time.Microsecond), "ms precision", "ms precision"},
		{"malformed", &durationpb.Duration{Seconds: 1, Nanos: -1}, "invalid duration", "invalid duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want := func(reason string) []wantFinding {
				if reason == "" {
					return nil
				}
				return []wantFinding{wantErr("d", reason)}
			}
			checkHelper(t, func(r *report) { validateDuration("d", tc.d, r) }, want(tc.reason))
			checkHelper(t, func(r *report) { validateDurationOrZero("d", tc.d, r) }, want(tc.orZero))
		})
	}
}
