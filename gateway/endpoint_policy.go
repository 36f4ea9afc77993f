package gateway

import (
	"fmt"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// policyParts are the four trafficPolicy settings a cluster uses, each with the field it came
// from so warnings name it.
type policyParts struct {
	lb                    *networking.LoadBalancerSettings
	pool                  *networking.ConnectionPoolSettings
	outlier               *networking.OutlierDetection
	tls                   *networking.ClientTLSSettings
	lbF, poolF, odF, tlsF string
}

// overlay takes the settings tp sets, field by field, as a subset's trafficPolicy overrides the
// top-level one; then a portLevelSettings entry for port replaces all four, as Istio's port-level
// settings do not inherit.
func (p *policyParts) overlay(tp *networking.TrafficPolicy, field string, port uint32) {
	if tp == nil {
		return
	}
	if tp.GetLoadBalancer() != nil {
		p.lb, p.lbF = tp.GetLoadBalancer(), field+".loadBalancer"
	}
	if tp.GetConnectionPool() != nil {
		p.pool, p.poolF = tp.GetConnectionPool(), field+".connectionPool"
	}
	if tp.GetOutlierDetection() != nil {
		p.outlier, p.odF = tp.GetOutlierDetection(), field+".outlierDetection"
	}
	if tp.GetTls() != nil {
		p.tls, p.tlsF = tp.GetTls(), field+".tls"
	}
	for i, pl := range tp.GetPortLevelSettings() {
		if pl.GetPort().GetNumber() != port {
			continue
		}
		f := fmt.Sprintf("%s.portLevelSettings[%d]", field, i)
		p.lb, p.lbF = pl.GetLoadBalancer(), f+".loadBalancer"
		p.pool, p.poolF = pl.GetConnectionPool(), f+".connectionPool"
		p.outlier, p.odF = pl.GetOutlierDetection(), f+".outlierDetection"
		p.tls, p.tlsF = pl.GetTls(), f+".tls"
		break
	}
}

// applyTrafficPolicy sets a cluster's policy from DestinationRule dr for its port and subset:
// the top-level trafficPolicy (with its port-level settings), overridden by the subset's.
func (c *compiler) applyTrafficPolicy(cl *Cluster, dr *policy.Resource, subset string, port uint32, host string) {
	p := trafficPolicyParts(dr, subset, port)
	if p.lb == nil && p.pool == nil && p.outlier == nil && p.tls == nil {
		return
	}
	cl.DestinationRule = dr.NamespacedName()
	cl.tlsSet = p.tls != nil
	cl.LoadBalancer = c.compileLoadBalancer(dr, p.lbF, p.lb)
	cl.ConnectionPool = c.compileConnectionPool(dr, p.poolF, p.pool)
	if cl.ConnectionPool != nil && cl.ConnectionPool.H2Upgrade && cl.Protocol == "HTTP" {
		cl.Protocol = "HTTP2"
	}
	cl.OutlierDetection = compileOutlierDetection(p.outlier)
	cl.TLS = c.compileOriginationTLS(dr, p.tlsF, p.tls, host, cl.Protocol)
}

// trafficPolicyParts merges DestinationRule dr's settings for a port and subset.
func trafficPolicyParts(dr *policy.Resource, subset string, port uint32) policyParts {
	spec := dr.Spec.(*networking.DestinationRule)
	var p policyParts
	p.overlay(spec.GetTrafficPolicy(), "spec.trafficPolicy", port)
	for i, s := range spec.GetSubsets() {
		if subset != "" && s.GetName() == subset {
			p.overlay(s.GetTrafficPolicy(), fmt.Sprintf("spec.subsets[%d].trafficPolicy", i), port)
		}
	}
	return p
}
