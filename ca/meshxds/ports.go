package meshxds

import (
	"cmp"
	"slices"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// InboundPort is one port the workload serves: Port is what peers dial, AppPort what the app listens on (loopback).
type InboundPort struct {
	Port, AppPort  uint32
	Name, Protocol string
}

// InboundPorts are the ports of the ServiceEntries whose workloadSelector selects the proxy (its namespace; Istio's
// way to describe workloads outside Kubernetes): port number → targetPort (or the number) as AppPort.
//
// Like istiod, when two ServiceEntries declare the same port the oldest wins, and the result is
// sorted by port so the listener's chains come out in a stable order.
func InboundPorts(snap *policy.Snapshot, p Proxy) []InboundPort {
	if snap == nil {
		return nil
	}
	var out []InboundPort
	seen := map[uint32]bool{}
	for _, r := range snap.List(policy.KindServiceEntry) {
		se, ok := r.Spec.(*networking.ServiceEntry)
		if !ok || r.Namespace != p.Namespace || !selects(se.GetWorkloadSelector(), p.Labels) {
			continue
		}
		for _, sp := range se.GetPorts() {
			if sp.GetNumber() == 0 || seen[sp.GetNumber()] {
				continue
			}
			seen[sp.GetNumber()] = true
			app := sp.GetTargetPort()
			if app == 0 {
				app = sp.GetNumber()
			}
			out = append(out, InboundPort{Port: sp.GetNumber(), AppPort: app, Name: sp.GetName(), Protocol: sp.GetProtocol()})
		}
	}
	slices.SortFunc(out, func(a, b InboundPort) int { return cmp.Compare(a.Port, b.Port) })
	return out
}

// selects reports whether a ServiceEntry's workloadSelector picks a workload with labels. A
// ServiceEntry without one describes a destination, not the workloads behind it, so it selects
// nothing; an empty label set selects the whole namespace, as a Kubernetes selector does.
func selects(sel *networking.WorkloadSelector, labels map[string]string) bool {
	if sel == nil {
		return false
	}
	for k, v := range sel.GetLabels() {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}
