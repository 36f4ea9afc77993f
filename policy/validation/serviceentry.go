package validation

import (
	"strings"

	networking "istio.io/api/networking/v1alpha3"
)

// CRD bounds on ServiceEntry lists.
const (
	maxServiceEntryHosts     = 256
	maxServiceEntryAddresses = 256
	maxServiceEntryAddrLen   = 64
	maxServiceEntryPorts     = 256
	maxServiceEntryEndpoints = 4096
	maxServicePortStringLen  = 256
	// ServiceEntry's workloadSelector is the older networking selector, capped at 256 labels.
	maxServiceEntrySelectorLabels = 256
)

// autoAllocateLabel lets a ServiceEntry opt out of automatic VIP allocation; without a VIP a TCP
// port can only be told apart by port number.
const autoAllocateLabel = "networking.istio.io/enable-autoallocate-ip"

func validateServiceEntry(meta Meta, se *networking.ServiceEntry, r *report) {
	if ws := se.GetWorkloadSelector(); ws != nil {
		validateSelectorLabels("spec.workloadSelector.labels", ws.GetLabels(), maxServiceEntrySelectorLabels, r)
		if se.GetEndpoints() != nil {
			r.errorf("spec", "only one of workloadSelector or endpoints is allowed in service entry")
		}
	}
	validateServiceEntryHosts(se, r)
	validateServiceEntryAddresses(se, r)
	ports := validateServicePorts(meta, se, r)
	validateServiceEntryResolution(se, ports, r)
	validateExportTo("spec.exportTo", namespaceOf(meta), se.GetExportTo(), exportToRules{allowNone: true}, r)
}

func validateServiceEntryHosts(se *networking.ServiceEntry, r *report) {
	hosts := se.GetHosts()
	if len(hosts) == 0 {
		r.errorf("spec.hosts", "service entry must have at least one host")
	}
	if len(hosts) > maxServiceEntryHosts {
		r.errorf("spec.hosts", "too many hosts: %d, at most %d allowed", len(hosts), maxServiceEntryHosts)
	}
	for i, h := range hosts {
		f := path("spec.hosts", i)
		if h == "*" {
			r.errorf(f, "invalid host *: a service entry cannot claim every host")
			continue
		}
		validateWildcardDomain(f, h, r)
		if reason := partialWildcardProblem(h); reason != "" {
			r.warnf(f, "%s", reason)
		}
	}
	// With several hosts on one port, only HTTP's authority or TLS's SNI can tell them apart;
	// NONE resolution ignores the hosts altogether.
	if se.GetResolution() != networking.ServiceEntry_NONE && len(hosts) > 1 {
		for i, p := range se.GetPorts() {
			if pr := parseProtocol(p.GetProtocol()); p != nil && !pr.isHTTP() && !pr.isTLS() {
				r.errorf(path(path("spec.ports", i), "protocol"), "multiple hosts provided with non-HTTP, non-TLS ports")
				break
			}
		}
	}
}

func validateServiceEntryAddresses(se *networking.ServiceEntry, r *report) {
	addrs := se.GetAddresses()
	if len(addrs) > maxServiceEntryAddresses {
		r.errorf("spec.addresses", "too many addresses: %d, at most %d allowed", len(addrs), maxServiceEntryAddresses)
	}
	cidr := false
	for i, a := range addrs {
		f := path("spec.addresses", i)
		if len(a) > maxServiceEntryAddrLen {
			r.errorf(f, "address must be at most %d characters", maxServiceEntryAddrLen)
		}
		cidr = cidr || strings.Contains(a, "/")
		validateIPOrCIDR(f, a, r)
	}
	if res := se.GetResolution(); cidr && res != networking.ServiceEntry_NONE && res != networking.ServiceEntry_STATIC {
		r.errorf("spec.addresses", "CIDR addresses are allowed only for NONE/STATIC resolution types")
	}
}

// validateServicePorts checks spec.ports and returns the declared port names, which endpoints
// must refer to.
func validateServicePorts(meta Meta, se *networking.ServiceEntry, r *report) map[string]bool {
	ports := se.GetPorts()
	if len(ports) > maxServiceEntryPorts {
		r.errorf("spec.ports", "too many ports: %d, at most %d allowed", len(ports), maxServiceEntryPorts)
	}
	names := make(map[string]bool, len(ports))
	numbers := map[uint32]bool{}
	noVIP := len(se.GetAddresses()) == 0 && meta.Labels[autoAllocateLabel] == "false"
	for i, p := range ports {
		f := path("spec.ports", i)
		if p == nil {
			r.errorf(f, "service entry port may not be null")
			continue
		}
		if names[p.GetName()] {
			r.errorf(path(f, "name"), "service entry port name %q already defined", p.GetName())
		}
		if numbers[p.GetNumber()] {
			r.errorf(path(f, "number"), "service entry port %d already defined", p.GetNumber())
		}
		names[p.GetName()], numbers[p.GetNumber()] = true, true
		if p.GetTargetPort() != 0 {
			validatePortNumber(path(f, "targetPort"), p.GetTargetPort(), r)
		}
		if noVIP && (p.GetProtocol() == "" || strings.EqualFold(p.GetProtocol(), "TCP")) {
			r.warnf(f, "addresses are required for ports serving TCP (or unset) protocol when IP Autoallocation is not enabled")
		}
		validatePortName(path(f, "name"), p.GetName(), r)
		if len(p.GetName()) > maxServicePortStringLen {
			r.errorf(path(f, "name"), "port name must be at most %d characters", maxServicePortStringLen)
		}
		// An empty protocol asks for protocol sniffing.
		if pr := p.GetProtocol(); pr != "" && parseProtocol(pr) == protoUnsupported {
			r.errorf(path(f, "protocol"), "unsupported protocol: %s", pr)
		}
		validatePortNumber(path(f, "number"), p.GetNumber(), r)
	}
	return names
}

func validateServiceEntryResolution(se *networking.ServiceEntry, ports map[string]bool, r *report) {
	eps := se.GetEndpoints()
	if len(eps) > maxServiceEntryEndpoints {
		r.errorf("spec.endpoints", "too many endpoints: %d, at most %d allowed", len(eps), maxServiceEntryEndpoints)
	}
	res := se.GetResolution()
	switch res {
	case networking.ServiceEntry_NONE:
		if len(eps) > 0 {
			r.errorf("spec.endpoints", "no endpoints should be provided for resolution type NONE")
		}
		if se.GetWorkloadSelector() != nil {
			r.warnf("spec.workloadSelector", "workloadSelector should not be set when resolution mode is NONE")
		}
		return
	case networking.ServiceEntry_STATIC:
		validateServiceEntryEndpoints(eps, endpointContext{allowUnix: true, servicePorts: ports}, r)
		return
	case networking.ServiceEntry_DYNAMIC_DNS:
		validateDynamicDNS(se, r)
		return
	}
	// DNS and DNS_ROUND_ROBIN: without endpoints the proxy resolves the hosts themselves.
	if len(eps) == 0 {
		for i, h := range se.GetHosts() {
			if h != "*" && wildcardDomainProblem(h) == "" && fqdnProblem(h) != "" {
				r.errorf(path("spec.hosts", i), "hosts must be FQDN if no endpoints are provided for resolution mode %s", res)
			}
		}
	}
	if res == networking.ServiceEntry_DNS_ROUND_ROBIN && len(eps) > 1 {
		r.errorf("spec.endpoints", "there must only be 0 or 1 endpoint for resolution mode %s", res)
	}
	validateServiceEntryEndpoints(eps, endpointContext{allowFQDN: true, servicePorts: ports}, r)
	if len(se.GetAddresses()) > 0 && len(se.GetHosts()) > 1 {
		for _, p := range se.GetPorts() {
			if parseProtocol(p.GetProtocol()).isTCP() {
				r.warnf("spec.hosts", "service entry can not have more than one host specified simultaneously with address and tcp port")
				break
			}
		}
	}
}

func validateServiceEntryEndpoints(eps []*networking.WorkloadEntry, ctx endpointContext, r *report) {
	for i, ep := range eps {
		f := path("spec.endpoints", i)
		if ep == nil {
			r.errorf(f, "endpoint cannot be null")
			continue
		}
		validateEndpoint(f, ep, ctx, r)
	}
}

// validateDynamicDNS checks DYNAMIC_DNS, where the proxy resolves the name each request or
// connection asks for (HTTP Host or TLS SNI). istio.io/api documents it for wildcard hosts only,
// with endpoints ignored; that much is an error or a warning as documented. The rest (no
// workloadSelector or addresses, HTTP or TLS ports) is only a warning: the name to dial cannot
// come from anywhere else, but Istio's exact validation of it could not be confirmed.
func validateDynamicDNS(se *networking.ServiceEntry, r *report) {
	for i, h := range se.GetHosts() {
		if !strings.HasPrefix(h, "*") {
			r.errorf(path("spec.hosts", i), "hosts must be wildcards for resolution mode DYNAMIC_DNS")
		}
	}
	if len(se.GetEndpoints()) > 0 {
		r.warnf("spec.endpoints", "endpoints are ignored for resolution mode DYNAMIC_DNS")
	}
	if se.GetWorkloadSelector() != nil {
		r.warnf("spec.workloadSelector", "workloadSelector is ignored for resolution mode DYNAMIC_DNS")
	}
	if len(se.GetAddresses()) > 0 {
		r.warnf("spec.addresses", "addresses are ignored for resolution mode DYNAMIC_DNS")
	}
	for i, p := range se.GetPorts() {
		if pr := parseProtocol(p.GetProtocol()); p != nil && !pr.isHTTP() && !pr.isTLS() {
			r.warnf(path(path("spec.ports", i), "protocol"), "resolution mode DYNAMIC_DNS takes the host to resolve from the Host header or SNI, so only HTTP and TLS ports can use it")
		}
	}
}
