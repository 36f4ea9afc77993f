package kube

import (
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

const (
	// serviceEntrySuffix keeps a synthesized ServiceEntry's name apart from the user's own
	// ServiceEntries, which may share the Service's name: two resources of one name would reject
	// the whole config as "defined twice".
	serviceEntrySuffix = ".k8s-service"
	// synthesizedFrom marks a ServiceEntry made from a Service; its value is "namespace/name".
	synthesizedFrom = "gatehouse.dev/synthesized-from-service"
	// exportToAnnotation is Istio's per-Service exportTo.
	exportToAnnotation = "networking.istio.io/exportTo"
	// maxEndpoints is policy's ServiceEntry endpoint limit: more would reject the whole config.
	maxEndpoints  = 4096
	clusterDomain = "cluster.local"
)

// podInfo is what an endpoint takes from its Pod.
type podInfo struct {
	labels         map[string]string
	serviceAccount string
}

// serviceEntry is a Service rendered as the ServiceEntry Istio's model makes of it: host
// <name>.<namespace>.svc.cluster.local, MESH_INTERNAL, STATIC, endpoints from the ready
// addresses of its EndpointSlices with their Pods' labels and service account. ok is false for
// Services with nothing to route to (ExternalName, no usable port). dropped counts endpoints
// beyond maxEndpoints.
func serviceEntry(svc *corev1.Service, slices []*discoveryv1.EndpointSlice, pod func(namespace, name string) (podInfo, bool)) (body map[string]any, meta map[string]any, dropped int, ok bool) {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil, nil, 0, false
	}
	var ports []any
	portName := map[string]string{} // Service port name -> ServiceEntry port name
	for _, p := range svc.Spec.Ports {
		proto, usable := portProtocol(p)
		if !usable {
			continue
		}
		name := p.Name
		if name == "" {
			// Kubernetes allows one unnamed port; a ServiceEntry port needs a name.
			name = "port-" + strconv.Itoa(int(p.Port))
		}
		portName[p.Name] = name
		sp := map[string]any{"name": name, "number": int(p.Port)}
		if proto != "" {
			sp["protocol"] = proto
		}
		if p.TargetPort.IntValue() > 0 {
			sp["targetPort"] = p.TargetPort.IntValue()
		}
		ports = append(ports, sp)
	}
	if len(ports) == 0 {
		return nil, nil, 0, false
	}
	spec := map[string]any{
		"hosts":      []string{svc.Name + "." + svc.Namespace + ".svc." + clusterDomain},
		"location":   "MESH_INTERNAL",
		"resolution": "STATIC",
		"ports":      ports,
	}
	var vips []string
	for _, ip := range svc.Spec.ClusterIPs {
		if ip != "" && ip != corev1.ClusterIPNone {
			vips = append(vips, ip)
		}
	}
	if len(vips) > 0 {
		spec["addresses"] = vips
	}
	if v := svc.Annotations[exportToAnnotation]; v != "" {
		var to []string
		for _, ns := range strings.Split(v, ",") {
			if ns = strings.TrimSpace(ns); ns != "" {
				to = append(to, ns)
			}
		}
		spec["exportTo"] = to
	}
	eps, dropped := endpoints(svc, slices, portName, pod)
	if len(eps) > 0 {
		spec["endpoints"] = eps
	}
	meta = renderedMeta(svc)
	meta["name"] = svc.Name + serviceEntrySuffix
	ann, _ := meta["annotations"].(map[string]string)
	if ann == nil {
		ann = map[string]string{}
	}
	ann[synthesizedFrom] = svc.Namespace + "/" + svc.Name
	meta["annotations"] = ann
	return map[string]any{"spec": spec}, meta, dropped, true
}

// endpoints are the ready addresses of the Service's slices, one per address with the ports of
// every slice that lists it, in address order. Istio sends traffic only to ready endpoints; a
// missing ready condition means ready, as the EndpointSlice API defines.
func endpoints(svc *corev1.Service, eps []*discoveryv1.EndpointSlice, portName map[string]string, pod func(namespace, name string) (podInfo, bool)) ([]any, int) {
	type endpoint struct {
		ports map[string]int
		pod   podInfo
	}
	byAddr := map[string]*endpoint{}
	for _, sl := range eps {
		if sl.Namespace != svc.Namespace || sl.Labels[discoveryv1.LabelServiceName] != svc.Name {
			continue
		}
		if sl.AddressType != discoveryv1.AddressTypeIPv4 && sl.AddressType != discoveryv1.AddressTypeIPv6 {
			continue // FQDN slices are deprecated and name no address to dial
		}
		slicePorts := map[string]int{}
		for _, p := range sl.Ports {
			var n string
			if p.Name != nil {
				n = *p.Name
			}
			name, known := portName[n]
			if !known || p.Port == nil {
				continue
			}
			slicePorts[name] = int(*p.Port)
		}
		for _, e := range sl.Endpoints {
			if e.Conditions.Ready != nil && !*e.Conditions.Ready {
				continue
			}
			var info podInfo
			if ref := e.TargetRef; ref != nil && ref.Kind == "Pod" {
				ns := ref.Namespace
				if ns == "" {
					ns = sl.Namespace
				}
				info, _ = pod(ns, ref.Name)
			}
			for _, addr := range e.Addresses {
				ep := byAddr[addr]
				if ep == nil {
					ep = &endpoint{ports: map[string]int{}, pod: info}
					byAddr[addr] = ep
				}
				for n, p := range slicePorts {
					ep.ports[n] = p
				}
			}
		}
	}
	addrs := make([]string, 0, len(byAddr))
	for a := range byAddr {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	dropped := 0
	if len(addrs) > maxEndpoints {
		dropped = len(addrs) - maxEndpoints
		addrs = addrs[:maxEndpoints]
	}
	out := make([]any, 0, len(addrs))
	for _, a := range addrs {
		ep := byAddr[a]
		m := map[string]any{"address": a}
		if len(ep.ports) > 0 {
			m["ports"] = ep.ports
		}
		if len(ep.pod.labels) > 0 {
			m["labels"] = ep.pod.labels
		}
		if ep.pod.serviceAccount != "" {
			m["serviceAccount"] = ep.pod.serviceAccount
		}
		out = append(out, m)
	}
	return out, dropped
}

// podInfoOf is the part of a Pod endpoints use. Kubernetes runs a Pod without
// serviceAccountName as "default".
func podInfoOf(p *corev1.Pod) podInfo {
	sa := p.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	return podInfo{labels: p.Labels, serviceAccount: sa}
}
