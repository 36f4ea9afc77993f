package validation

import (
	"strings"

	networking "istio.io/api/networking/v1alpha3"
)

// CRD bounds on WorkloadEntry (and ServiceEntry endpoint) fields.
const (
	maxEndpointAddressLen = 256
	maxEndpointPorts      = 128
	maxEndpointLabels     = 256
	maxNetworkLen         = 2048
	maxLocalityLen        = 2048
	maxServiceAccountLen  = 253
)

func validateWorkloadEntry(meta Meta, we *networking.WorkloadEntry, r *report) {
	// Alone, a WorkloadEntry may be selected by a DNS ServiceEntry, so a host name is a valid
	// address; which ports exist is only known once a ServiceEntry selects it.
	validateEndpoint("spec", we, endpointContext{allowFQDN: true, allowUnix: true}, r)
}

// endpointContext: what is known about the service an endpoint belongs to.
type endpointContext struct {
	// allowFQDN: the address may be a host name (DNS resolution), not only an IP or socket.
	allowFQDN bool
	// allowUnix: the address may be a Unix domain socket (not with DNS resolution).
	allowUnix bool
	// servicePorts: the names of the ServiceEntry's ports, nil when there is no ServiceEntry.
	servicePorts map[string]bool
}

// validateEndpoint checks a WorkloadEntry spec or a ServiceEntry endpoint at field.
func validateEndpoint(field string, we *networking.WorkloadEntry, ctx endpointContext, r *report) {
	validateEndpointLimits(field, we, r)
	addr := we.GetAddress()
	af := path(field, "address")
	switch socket, unix := strings.CutPrefix(addr, unixAddressPrefix); {
	case addr == "" && we.GetNetwork() == "":
		r.errorf(af, "address is required (or network, for an endpoint reached through a network gateway)")
		return
	case addr == "":
		r.warnf(af, "address is unset with network %q", we.GetNetwork())
	case unix && !ctx.allowUnix:
		r.errorf(af, "endpoint address %q: unix domain sockets need STATIC resolution", addr)
	case unix:
		validateUnixAddress(af, socket, r)
		if len(we.GetPorts()) > 0 {
			r.errorf(path(field, "ports"), "unix endpoint %s must not include ports", addr)
		}
		if ctx.servicePorts != nil && len(ctx.servicePorts) != 1 {
			r.errorf(af, "exactly 1 service port required for unix endpoints")
		}
	case isIPAddress(addr):
	case !ctx.allowFQDN:
		r.errorf(af, "endpoint address %q is not a valid IP address", addr)
	case fqdnProblem(addr) != "":
		r.errorf(af, "endpoint address %q is not a valid FQDN or an IP address", addr)
	}
	validateEndpointPorts(path(field, "ports"), we.GetPorts(), ctx, r)
	validateLabels(path(field, "labels"), we.GetLabels(), r)
}

func validateEndpointPorts(field string, ports map[string]uint32, ctx endpointContext, r *report) {
	for _, name := range sortedKeys(ports) {
		f := keyPath(field, name)
		if ctx.servicePorts != nil && !ctx.servicePorts[name] {
			r.errorf(f, "endpoint port %q is not defined by the service entry", name)
		}
		validatePortName(f, name, r)
		validatePortNumber(f, ports[name], r)
	}
}

func validateEndpointLimits(field string, we *networking.WorkloadEntry, r *report) {
	maxLen := func(name, v string, limit int) {
		if len(v) > limit {
			r.errorf(path(field, name), "%s must be at most %d characters", name, limit)
		}
	}
	maxLen("address", we.GetAddress(), maxEndpointAddressLen)
	maxLen("network", we.GetNetwork(), maxNetworkLen)
	maxLen("locality", we.GetLocality(), maxLocalityLen)
	maxLen("serviceAccount", we.GetServiceAccount(), maxServiceAccountLen)
	if n := len(we.GetPorts()); n > maxEndpointPorts {
		r.errorf(path(field, "ports"), "too many ports: %d, at most %d allowed", n, maxEndpointPorts)
	}
	if n := len(we.GetLabels()); n > maxEndpointLabels {
		r.errorf(path(field, "labels"), "too many labels: %d, at most %d allowed", n, maxEndpointLabels)
	}
}
