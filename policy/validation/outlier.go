package validation

import (
	networking "istio.io/api/networking/v1alpha3"
)

func validateOutlierDetection(field string, od *networking.OutlierDetection, r *report) {
	if od == nil {
		return
	}
	validateDuration(path(field, "baseEjectionTime"), od.GetBaseEjectionTime(), r)
	validateDuration(path(field, "interval"), od.GetInterval(), r)
	//lint:ignore SA1019 deprecated field, warned about on purpose
	if od.GetConsecutiveErrors() != 0 {
		r.warnf(path(field, "consecutiveErrors"), "outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or consecutive5xxErrors instead")
	}
	// Local-origin failures are only counted apart when the split is on; otherwise the setting
	// would silently do nothing.
	if !od.GetSplitExternalLocalOriginErrors() && od.GetConsecutiveLocalOriginFailures().GetValue() > 0 {
		r.errorf(path(field, "consecutiveLocalOriginFailures"), "outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false")
	}
	validatePercent(path(field, "maxEjectionPercent"), od.GetMaxEjectionPercent(), r)
	validatePercent(path(field, "minHealthPercent"), od.GetMinHealthPercent(), r)
}
