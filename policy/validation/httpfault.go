package validation

import (
	networking "istio.io/api/networking/v1alpha3"
)

// grpcStatusNames: the gRPC status codes a fault may abort with, by their canonical names.
var grpcStatusNames = setOf(
	"OK",
	"CANCELLED",
	"UNKNOWN",
	"INVALID_ARGUMENT",
	"DEADLINE_EXCEEDED",
	"NOT_FOUND",
	"ALREADY_EXISTS",
	"PERMISSION_DENIED",
	"RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION",
	"ABORTED",
	"OUT_OF_RANGE",
	"UNIMPLEMENTED",
	"INTERNAL",
	"UNAVAILABLE",
	"DATA_LOSS",
	"UNAUTHENTICATED",
)

// minFaultPercentage: Envoy's fractional percent has a resolution of one in a million, so
// smaller non-zero values would silently round to zero.
const minFaultPercentage = 0.0001

func validateFault(field string, f *networking.HTTPFaultInjection, r *report) {
	if f == nil {
		return
	}
	if f.GetAbort() == nil && f.GetDelay() == nil {
		r.errorf(field, "HTTP fault injection must have an abort and/or a delay")
	}
	if a := f.GetAbort(); a != nil {
		af := path(field, "abort")
		validateFaultPercentage(path(af, "percentage"), a.GetPercentage(), r)
		switch e := a.GetErrorType().(type) {
		case *networking.HTTPFaultInjection_Abort_HttpStatus:
			validateHTTPStatus(path(af, "httpStatus"), int64(e.HttpStatus), r)
		case *networking.HTTPFaultInjection_Abort_GrpcStatus:
			if !grpcStatusNames[e.GrpcStatus] {
				r.errorf(path(af, "grpcStatus"), "gRPC status %q is not supported. See https://github.com/grpc/grpc/blob/master/doc/statuscodes.md for a list of supported codes, for example 'NOT_FOUND'", e.GrpcStatus)
			}
		default:
			r.warnf(af, "abort configured, but error type not set")
		}
	}
	if d := f.GetDelay(); d != nil {
		df := path(field, "delay")
		validateFaultPercentage(path(df, "percentage"), d.GetPercentage(), r)
		//lint:ignore SA1019 deprecated field still honoured
		if p := d.GetPercent(); p < 0 || p > 100 {
			r.errorf(path(df, "percent"), "percentage %d is not in range 0..100", p)
		}
		switch t := d.GetHttpDelayType().(type) {
		case *networking.HTTPFaultInjection_Delay_FixedDelay:
			validateDuration(path(df, "fixedDelay"), t.FixedDelay, r)
		case *networking.HTTPFaultInjection_Delay_ExponentialDelay:
			validateDuration(path(df, "exponentialDelay"), t.ExponentialDelay, r)
			r.errorf(path(df, "exponentialDelay"), "exponentialDelay not supported yet")
		}
	}
}

func validateFaultPercentage(field string, p *networking.Percent, r *report) {
	if p == nil {
		return
	}
	v := p.GetValue()
	if v < 0 || v > 100 || (v > 0 && v < minFaultPercentage) {
		r.errorf(field, "percentage %v is neither 0.0, nor in range [0.0001, 100.0]", v)
	}
}

// validateMirrors checks mirror, mirrorPercent(age) and mirrors of one HTTP route.
func validateMirrors(field string, h *networking.HTTPRoute, r *report) {
	//lint:ignore SA1019 deprecated field still honoured
	if mp := h.GetMirrorPercent(); mp != nil {
		if v := mp.GetValue(); v > 100 {
			r.errorf(path(field, "mirrorPercent"), "mirrorPercent must have a max value of 100 (it has %d)", v)
		}
		r.warnf(path(field, "mirrorPercent"), `using deprecated setting "mirrorPercent", use "mirrorPercentage" instead`)
	}
	validateMirrorPercentage(path(field, "mirrorPercentage"), h.GetMirrorPercentage(), r)
	validateDestination(path(field, "mirror"), h.GetMirror(), r)
	for i, m := range h.GetMirrors() {
		f := path(path(field, "mirrors"), i)
		if m.GetDestination() == nil {
			r.errorf(path(f, "destination"), "destination is required for mirrors")
			continue
		}
		validateDestination(path(f, "destination"), m.GetDestination(), r)
		validateMirrorPercentage(path(f, "percentage"), m.GetPercentage(), r)
	}
}

func validateMirrorPercentage(field string, p *networking.Percent, r *report) {
	if p == nil {
		return
	}
	switch v := p.GetValue(); {
	case v > 100:
		r.errorf(field, "mirror percentage must have a max value of 100 (it has %f)", v)
	case v < 0:
		r.errorf(field, "mirror percentage must have a min value of 0 (it has %f)", v)
	}
}
