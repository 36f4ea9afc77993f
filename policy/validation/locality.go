package validation

import (
	"strings"

	networking "istio.io/api/networking/v1alpha3"
)

// Topology labels that "failover" already expresses; repeating them in failoverPriority would
// order endpoints twice.
var topologyLabels = setOf(
	"topology.kubernetes.io/region",
	"topology.kubernetes.io/zone",
	"topology.istio.io/subzone",
)

// validateLocalityLbSetting checks a localityLbSetting (DestinationRule or MeshConfig). outlier is
// the policy's outlierDetection: failover only happens when unhealthy endpoints get ejected.
func validateLocalityLbSetting(field string, lb *networking.LocalityLoadBalancerSetting, outlier *networking.OutlierDetection, r *report) {
	if lb == nil {
		return
	}
	if len(lb.GetDistribute()) > 0 && len(lb.GetFailover()) > 0 {
		r.errorf(field, "can not simultaneously specify 'distribute' and 'failover'")
		return
	}
	if len(lb.GetFailover()) > 0 {
		for i, l := range lb.GetFailoverPriority() {
			if topologyLabels[l] {
				r.errorf(path(path(field, "failoverPriority"), i), "can not simultaneously set 'failover' and topology label '%s' in 'failoverPriority'", l)
				return
			}
		}
	}
	from := make([]string, 0, len(lb.GetDistribute()))
	for i, d := range lb.GetDistribute() {
		f := path(path(field, "distribute"), i)
		from = append(from, d.GetFrom())
		var total uint64
		for _, loc := range sortedKeys(d.GetTo()) {
			w := d.GetTo()[loc]
			if w < 1 || w > 100 {
				r.errorf(keyPath(path(f, "to"), loc), "locality weight must be in range [1, 100]")
				return
			}
			total += uint64(w)
		}
		if total != 100 {
			r.errorf(path(f, "to"), "total locality weight %d != 100", total)
			return
		}
		if reason := localitiesProblem(sortedKeys(d.GetTo())); reason != "" {
			r.errorf(path(f, "to"), "%s", reason)
		}
	}
	if reason := localitiesProblem(from); reason != "" {
		r.errorf(path(field, "distribute"), "%s", reason)
	}
	if (len(lb.GetFailover()) > 0 || len(lb.GetFailoverPriority()) > 0) && outlier == nil {
		r.warnf(field, "outlier detection policy must be provided for failover")
	}
	for i, fo := range lb.GetFailover() {
		f := path(path(field, "failover"), i)
		if fo.GetFrom() == fo.GetTo() {
			r.errorf(f, "locality lb failover settings must specify different regions")
		}
		if strings.Contains(fo.GetFrom(), "/") || strings.Contains(fo.GetTo(), "/") {
			r.errorf(f, "locality lb failover only specify region")
		}
		if strings.Contains(fo.GetFrom(), "*") || strings.Contains(fo.GetTo(), "*") {
			r.errorf(f, "locality lb failover region should not contain '*' wildcard")
		}
	}
}

// localitiesProblem reports the first locality ("region[/zone[/subzone]]", optionally ending in
// "*") that is malformed or overlaps one listed before it.
func localitiesProblem(localities []string) string {
	// region -> zone -> subzones; "*" entries stand for a whole level.
	tree := map[string]map[string]map[string]bool{}
	for _, l := range localities {
		if n := strings.Count(l, "*"); n > 1 || n == 1 && !strings.HasSuffix(l, "*") {
			return "locality " + l + " wildcard '*' number can not exceed 1 and must be in the end"
		}
		overlap := "locality " + l + " overlap with previous specified ones"
		if _, ok := tree["*"]; ok {
			return overlap
		}
		parts := strings.SplitN(l, "/", 3)
		for _, p := range parts {
			if p == "" {
				return "locality " + l + " must not contain empty region/zone/subzone info"
			}
		}
		region := parts[0]
		zones, haveRegion := tree[region]
		switch len(parts) {
		case 1:
			if haveRegion {
				return overlap
			}
			tree[region] = map[string]map[string]bool{"*": {"*": true}}
		case 2:
			zone := parts[1]
			if !haveRegion {
				tree[region] = map[string]map[string]bool{zone: {"*": true}}
				continue
			}
			if _, ok := zones["*"]; ok {
				return overlap
			}
			if _, ok := zones[zone]; ok {
				return overlap
			}
			zones[zone] = map[string]bool{"*": true}
		case 3:
			zone, sub := parts[1], parts[2]
			if !haveRegion {
				tree[region] = map[string]map[string]bool{zone: {sub: true}}
				continue
			}
			if _, ok := zones["*"]; ok {
				return overlap
			}
			subs, haveZone := zones[zone]
			if !haveZone {
				zones[zone] = map[string]bool{sub: true}
				continue
			}
			if subs["*"] || subs[sub] {
				return overlap
			}
			subs[sub] = true
		}
	}
	return ""
}
