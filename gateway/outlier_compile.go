package gateway

import (
	"time"

	networking "istio.io/api/networking/v1alpha3"
)

// Istio's outlierDetection defaults.
const (
	defaultConsecutive5xx     = 5
	defaultOutlierInterval    = 10 * time.Second
	defaultBaseEjectionTime   = 30 * time.Second
	defaultMaxEjectionPercent = 10
)

// compileOutlierDetection translates outlierDetection with Istio's defaults; nil when absent.
func compileOutlierDetection(od *networking.OutlierDetection) *OutlierDetection {
	if od == nil {
		return nil
	}
	o := &OutlierDetection{
		Consecutive5xxErrors: defaultConsecutive5xx,
		Interval:             Duration(defaultOutlierInterval),
		BaseEjectionTime:     Duration(defaultBaseEjectionTime),
		MaxEjectionPercent:   defaultMaxEjectionPercent,
		MinHealthPercent:     od.GetMinHealthPercent(),
	}
	//lint:ignore SA1019 Istio still honours the deprecated consecutiveErrors.
	legacy := od.GetConsecutiveErrors()
	switch {
	case od.GetConsecutive_5XxErrors() != nil:
		o.Consecutive5xxErrors = od.GetConsecutive_5XxErrors().GetValue()
	case legacy > 0:
		// The deprecated field counted gateway errors only.
		o.Consecutive5xxErrors = 0
		o.ConsecutiveGatewayErrors = uint32(legacy)
	}
	if v := od.GetConsecutiveGatewayErrors(); v != nil {
		o.ConsecutiveGatewayErrors = v.GetValue()
	}
	if d := od.GetInterval(); d != nil && d.AsDuration() > 0 {
		o.Interval = Duration(d.AsDuration())
	}
	if d := od.GetBaseEjectionTime(); d != nil && d.AsDuration() > 0 {
		o.BaseEjectionTime = Duration(d.AsDuration())
	}
	if p := od.GetMaxEjectionPercent(); p > 0 {
		o.MaxEjectionPercent = min(p, 100)
	}
	return o
}
