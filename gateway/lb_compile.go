package gateway

import (
	"time"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// compileLoadBalancer translates loadBalancer; nil means Envoy's default, LEAST_REQUEST.
func (c *compiler) compileLoadBalancer(dr *policy.Resource, field string, lb *networking.LoadBalancerSettings) *LoadBalancer {
	if lb == nil {
		return nil
	}
	if lb.GetLocalityLbSetting() != nil || lb.GetWarmupDurationSecs() != nil || lb.GetWarmup() != nil {
		c.problems.warn(dr, field, "localityLbSetting and warmup are not applied by the gateway: ignored")
	}
	if ch := lb.GetConsistentHash(); ch != nil {
		//lint:ignore SA1019 Istio still honours the deprecated top-level minimumRingSize.
		ringSize := ch.GetMinimumRingSize()
		h := &ConsistentHash{
			HTTPHeaderName:         ch.GetHttpHeaderName(),
			UseSourceIP:            ch.GetUseSourceIp(),
			HTTPQueryParameterName: ch.GetHttpQueryParameterName(),
			MinimumRingSize:        ringSize,
		}
		if rh := ch.GetRingHash(); rh != nil && rh.GetMinimumRingSize() > 0 {
			h.MinimumRingSize = rh.GetMinimumRingSize()
		}
		if h.MinimumRingSize == 0 {
			h.MinimumRingSize = defaultRingSize
		}
		if ck := ch.GetHttpCookie(); ck != nil {
			h.HTTPCookie = &HashCookie{Name: ck.GetName(), Path: ck.GetPath()}
			if ck.GetTtl() != nil {
				ttl := Duration(ck.GetTtl().AsDuration().Truncate(time.Second))
				h.HTTPCookie.TTL = &ttl
			}
		}
		if h.HTTPHeaderName == "" && !h.UseSourceIP && h.HTTPQueryParameterName == "" && h.HTTPCookie == nil {
			c.problems.warn(dr, field+".consistentHash", "no hash key is set: requests are spread at random")
		}
		return &LoadBalancer{ConsistentHash: h}
	}
	switch s := lb.GetSimple(); s {
	case networking.LoadBalancerSettings_ROUND_ROBIN, networking.LoadBalancerSettings_RANDOM, networking.LoadBalancerSettings_LEAST_REQUEST:
		return &LoadBalancer{Simple: s.String()}
	case networking.LoadBalancerSettings_PASSTHROUGH:
		c.problems.warn(dr, field+".simple", "PASSTHROUGH needs the original destination, which a gateway does not have: balanced as LEAST_REQUEST")
		return &LoadBalancer{Simple: "PASSTHROUGH"}
	}
	return nil
}
