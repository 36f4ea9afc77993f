package validation

import (
	networking "istio.io/api/networking/v1alpha3"
)

// The CRD caps portLevelSettings at 4096 entries.
const maxPortLevelSettings = 4096

func validateTrafficPolicy(field string, ns string, tp *networking.TrafficPolicy, r *report) {
	if tp == nil {
		return
	}
	if tp.GetOutlierDetection() == nil && tp.GetConnectionPool() == nil && tp.GetLoadBalancer() == nil &&
		tp.GetTls() == nil && len(tp.GetPortLevelSettings()) == 0 && tp.GetTunnel() == nil &&
		tp.GetProxyProtocol() == nil && tp.GetRetryBudget() == nil {
		r.errorf(field, "traffic policy must have at least one field")
		return
	}
	if tp.GetTunnel() != nil && tp.GetProxyProtocol() != nil {
		r.errorf(field, "tunnel and proxyProtocol must not be set together")
	}
	validateOutlierDetection(path(field, "outlierDetection"), tp.GetOutlierDetection(), r)
	validateConnectionPool(path(field, "connectionPool"), tp.GetConnectionPool(), r)
	validateLoadBalancer(path(field, "loadBalancer"), tp.GetLoadBalancer(), tp.GetOutlierDetection(), r)
	validateClientTLS(path(field, "tls"), ns, tp.GetTls(), r)
	validatePortTrafficPolicies(path(field, "portLevelSettings"), ns, tp.GetPortLevelSettings(), r)
	validateTunnel(path(field, "tunnel"), tp.GetTunnel(), r)
	validateRetryBudget(path(field, "retryBudget"), tp.GetRetryBudget(), r)
}

func validatePortTrafficPolicies(field string, ns string, pls []*networking.TrafficPolicy_PortTrafficPolicy, r *report) {
	if len(pls) > maxPortLevelSettings {
		r.errorf(field, "too many portLevelSettings: %d, at most %d allowed", len(pls), maxPortLevelSettings)
	}
	for i, p := range pls {
		f := path(field, i)
		if p == nil {
			r.errorf(f, "port traffic policy may not be null")
			continue
		}
		if p.GetPort() == nil {
			r.errorf(path(f, "port"), "portTrafficPolicy must have valid port")
		} else {
			validatePortNumber(path(path(f, "port"), "number"), p.GetPort().GetNumber(), r)
		}
		if p.GetOutlierDetection() == nil && p.GetConnectionPool() == nil && p.GetLoadBalancer() == nil && p.GetTls() == nil {
			r.errorf(f, "port traffic policy must have at least one field")
			continue
		}
		validateOutlierDetection(path(f, "outlierDetection"), p.GetOutlierDetection(), r)
		validateConnectionPool(path(f, "connectionPool"), p.GetConnectionPool(), r)
		validateLoadBalancer(path(f, "loadBalancer"), p.GetLoadBalancer(), p.GetOutlierDetection(), r)
		validateClientTLS(path(f, "tls"), ns, p.GetTls(), r)
	}
}

func validateTunnel(field string, t *networking.TrafficPolicy_TunnelSettings, r *report) {
	if t == nil {
		return
	}
	if p := t.GetProtocol(); p != "" && p != "CONNECT" && p != "POST" {
		r.errorf(path(field, "protocol"), `tunnel protocol must be "CONNECT" or "POST", got %q`, p)
	}
	if h := t.GetTargetHost(); fqdnProblem(h) != "" && !isIPAddress(h) {
		r.errorf(path(field, "targetHost"), "tunnel target host must be valid FQDN or IP address: %q", h)
	}
	validatePortNumber(path(field, "targetPort"), t.GetTargetPort(), r)
}

func validateRetryBudget(field string, b *networking.TrafficPolicy_RetryBudget, r *report) {
	if p := b.GetPercent(); p != nil && (p.GetValue() < 0 || p.GetValue() > 100) {
		r.errorf(path(field, "percent"), "retry budget percent %v must be in range 0..100", p.GetValue())
	}
}

// validatePercent checks an integer percentage field.
func validatePercent(field string, v int32, r *report) {
	if v < 0 || v > 100 {
		r.errorf(field, "percentage %d is not in range 0..100", v)
	}
}
