package validation

import (
	"math"

	networking "istio.io/api/networking/v1alpha3"
)

// maxMaglevTableSize: Envoy's bound on the Maglev lookup table, which must also be prime.
const maxMaglevTableSize = 5000011

func validateLoadBalancer(field string, lb *networking.LoadBalancerSettings, outlier *networking.OutlierDetection, r *report) {
	if lb == nil {
		return
	}
	validateConsistentHash(path(field, "consistentHash"), lb.GetConsistentHash(), r)
	validateLocalityLbSetting(path(field, "localityLbSetting"), lb.GetLocalityLbSetting(), outlier, r)
	if n := lb.GetZoneAwareLbSetting().GetMinClusterSize(); n != nil && n.GetValue() < 1 {
		r.errorf(path(path(field, "zoneAwareLbSetting"), "minClusterSize"), "minClusterSize must be at least 1")
	}
	if lb.GetWarmupDurationSecs() != nil && lb.GetWarmup() != nil {
		r.errorf(field, "only one of warmupDurationSecs or warmup can be set")
	}
	validateDuration(path(field, "warmupDurationSecs"), lb.GetWarmupDurationSecs(), r)
	if w := lb.GetWarmup(); w != nil {
		f := path(field, "warmup")
		if w.GetDuration() == nil {
			r.errorf(path(f, "duration"), "duration is required")
		}
		validateDuration(path(f, "duration"), w.GetDuration(), r)
		if p := w.GetMinimumPercent(); p != nil && (p.GetValue() < 0 || p.GetValue() > 100) {
			r.errorf(path(f, "minimumPercent"), "minimumPercent value should be between 0 and 100")
		}
		if a := w.GetAggression(); a != nil && a.GetValue() < 1 {
			r.errorf(path(f, "aggression"), "aggression should be greater than or equal to 1")
		}
	}
}

func validateConsistentHash(field string, ch *networking.LoadBalancerSettings_ConsistentHashLB, r *report) {
	if ch == nil {
		return
	}
	if c := ch.GetHttpCookie(); c != nil && c.GetName() == "" {
		r.errorf(path(path(field, "httpCookie"), "name"), "name required for httpCookie")
	}
	//lint:ignore SA1019 deprecated field, warned about on purpose
	if ch.GetMinimumRingSize() != 0 {
		r.warnf(path(field, "minimumRingSize"), "consistent hash minimumRingSize is deprecated, use ringHash.minimumRingSize instead")
		if ch.GetHashAlgorithm() != nil {
			r.errorf(field, "only one of minimumRingSize or maglev/ringHash can be specified")
		}
	}
	if m := ch.GetMaglev(); m != nil {
		f := path(path(field, "maglev"), "tableSize")
		switch size := m.GetTableSize(); {
		case size == 0:
			r.errorf(f, "tableSize must be set for maglev")
		case size >= maxMaglevTableSize:
			r.errorf(f, "tableSize must be less than %d for maglev", maxMaglevTableSize)
		case !isPrime(size):
			r.errorf(f, "tableSize must be a prime number for maglev")
		}
	}
}

// isPrime decides primality the way Envoy does for Maglev table sizes (1 counts as prime there).
func isPrime(n uint64) bool {
	if n == 0 {
		return false
	}
	if n < 4 {
		return true
	}
	if n%2 == 0 {
		return false
	}
	limit := uint64(math.Sqrt(float64(n)))
	for f := uint64(3); f <= limit; f += 2 {
		if n%f == 0 {
			return false
		}
	}
	return true
}
