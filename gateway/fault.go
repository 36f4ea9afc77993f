package gateway

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/gatehouse-dev/gatehouse/gateway/accesslog"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// Fault is a route's fault injection, applied before the request is routed as Envoy's fault
// filter does: first the delay, then the abort.
type Fault struct {
	Delay *FaultDelay `yaml:"delay,omitempty"`
	Abort *FaultAbort `yaml:"abort,omitempty"`
}

// FaultDelay holds a share of requests back before they are forwarded.
type FaultDelay struct {
	Fixed Duration `yaml:"fixedDelay"`
	// Percent of requests delayed, 0 to 100.
	Percent float64 `yaml:"percent"`
}

// FaultAbort answers a share of requests itself.
type FaultAbort struct {
	HTTPStatus int `yaml:"httpStatus,omitempty"`
	// GRPCStatus is the code name; gRPC requests get it in a trailers-only response.
	GRPCStatus string  `yaml:"grpcStatus,omitempty"`
	Percent    float64 `yaml:"percent"`

	grpcCode int
}

const bodyFaultAbort = "fault filter abort"

// grpcCodes are the gRPC status names Istio accepts for grpcStatus, by code.
var grpcCodes = map[string]int{
	"OK": 0, "CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4,
	"NOT_FOUND": 5, "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8,
	"FAILED_PRECONDITION": 9, "ABORTED": 10, "OUT_OF_RANGE": 11, "UNIMPLEMENTED": 12,
	"INTERNAL": 13, "UNAVAILABLE": 14, "DATA_LOSS": 15, "UNAUTHENTICATED": 16,
}

// compileFault follows Istio's translation: a delay or abort without percentage (and, for a
// delay, without the deprecated percent) reaches no request.
func (c *compiler) compileFault(vs *policy.Resource, field string, in *networking.HTTPFaultInjection) *Fault {
	if in == nil {
		return nil
	}
	out := &Fault{}
	if d := in.GetDelay(); d != nil {
		//lint:ignore SA1019 Istio still honours the deprecated percent.
		pct := float64(d.GetPercent())
		if d.GetPercentage() != nil {
			pct = d.GetPercentage().GetValue()
		}
		switch {
		case d.GetFixedDelay() != nil:
			out.Delay = &FaultDelay{Fixed: Duration(d.GetFixedDelay().AsDuration()), Percent: pct}
		default:
			c.problems.warn(vs, field+".delay", "only fixedDelay is supported (Istio does not support exponentialDelay either): delay ignored")
		}
		if out.Delay != nil && pct == 0 {
			c.problems.warn(vs, field+".delay.percentage", "no percentage: no request is delayed")
		}
	}
	if a := in.GetAbort(); a != nil {
		pct := a.GetPercentage().GetValue()
		switch e := a.GetErrorType().(type) {
		case *networking.HTTPFaultInjection_Abort_HttpStatus:
			out.Abort = &FaultAbort{HTTPStatus: int(e.HttpStatus), Percent: pct}
		case *networking.HTTPFaultInjection_Abort_GrpcStatus:
			code, ok := grpcCodes[strings.ToUpper(e.GrpcStatus)]
			if !ok {
				c.problems.warn(vs, field+".abort.grpcStatus", "%q is not a gRPC status name: abort ignored", e.GrpcStatus)
				break
			}
			out.Abort = &FaultAbort{GRPCStatus: strings.ToUpper(e.GrpcStatus), Percent: pct, grpcCode: code}
		default:
			c.problems.warn(vs, field+".abort", "only httpStatus and grpcStatus aborts are supported: abort ignored")
		}
		if out.Abort != nil && pct == 0 {
			c.problems.warn(vs, field+".abort.percentage", "no percentage: no request is aborted")
		}
	}
	if out.Delay == nil && out.Abort == nil {
		return nil
	}
	return out
}

// sampled draws whether a request falls in a percentage.
func sampled(percent float64) bool {
	return percent >= 100 || percent > 0 && rand.Float64()*100 < percent
}

// inject applies the fault to a request; false when the request was answered (aborted) or the
// client left during the delay, and must not be forwarded.
func (f *Fault) inject(w http.ResponseWriter, r *http.Request) bool {
	if d := f.Delay; d != nil && d.Fixed > 0 && sampled(d.Percent) {
		setFlags(r.Context(), accesslog.DelayInjected)
		if !sleepCtx(r.Context(), time.Duration(d.Fixed)) {
			return false
		}
	}
	a := f.Abort
	if a == nil || !sampled(a.Percent) {
		return true
	}
	setFlags(r.Context(), accesslog.FaultInjected)
	switch {
	case a.GRPCStatus != "":
		grpcLocalReply(w, a.grpcCode, bodyFaultAbort)
	case isGRPC(r):
		grpcLocalReply(w, grpcStatusForHTTP(a.HTTPStatus), bodyFaultAbort)
	default:
		localReply(w, a.HTTPStatus, bodyFaultAbort)
	}
	return false
}

// isGRPC tells a gRPC request by its content type, as Envoy does.
func isGRPC(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	return strings.HasPrefix(ct, "application/grpc") && (len(ct) == len("application/grpc") || ct[len("application/grpc")] == '+' || ct[len("application/grpc")] == ';')
}

// grpcLocalReply answers a gRPC request as Envoy's local replies do: a trailers-only response,
// HTTP 200 with the status in the headers.
func grpcLocalReply(w http.ResponseWriter, code int, message string) {
	h := w.Header()
	h.Set("Content-Type", "application/grpc")
	h.Set("Grpc-Status", strconv.Itoa(code))
	h.Set("Grpc-Message", message)
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// grpcStatusForHTTP is Envoy's mapping of an HTTP status to the gRPC status a gRPC client sees.
func grpcStatusForHTTP(code int) int {
	switch code {
	case 400:
		return grpcCodes["INTERNAL"]
	case 401:
		return grpcCodes["UNAUTHENTICATED"]
	case 403:
		return grpcCodes["PERMISSION_DENIED"]
	case 404:
		return grpcCodes["UNIMPLEMENTED"]
	case 429, 502, 503, 504:
		return grpcCodes["UNAVAILABLE"]
	}
	return grpcCodes["UNKNOWN"]
}
