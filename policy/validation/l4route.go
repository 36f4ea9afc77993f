package validation

import (
	"strings"

	networking "istio.io/api/networking/v1alpha3"
)

func validateTLSRoute(field string, t *networking.TLSRoute, vs *networking.VirtualService, onGateway bool, r *report) {
	if t == nil {
		return
	}
	if len(t.GetMatch()) == 0 {
		r.errorf(path(field, "match"), "TLS route must have at least one match condition")
	}
	for i, m := range t.GetMatch() {
		f := path(path(field, "match"), i)
		if m == nil {
			r.errorf(f, "TLS match may not be null")
			continue
		}
		validateTLSMatch(f, m, vs, onGateway, r)
	}
	if len(t.GetRoute()) == 0 {
		r.errorf(path(field, "route"), "TLS route is required")
	}
	validateRouteDestinations(path(field, "route"), t.GetRoute(), r, nil)
}

func validateTLSMatch(field string, m *networking.TLSMatchAttributes, vs *networking.VirtualService, onGateway bool, r *report) {
	if len(m.GetSniHosts()) == 0 {
		r.errorf(path(field, "sniHosts"), "TLS match must have at least one SNI host")
	}
	for i, h := range m.GetSniHosts() {
		validateSNIHost(path(path(field, "sniHosts"), i), h, vs, onGateway, r)
	}
	for i, s := range m.GetDestinationSubnets() {
		validateIPOrCIDR(path(path(field, "destinationSubnets"), i), s, r)
	}
	if m.GetPort() != 0 {
		validatePortNumber(path(field, "port"), m.GetPort(), r)
	}
	validateLabels(path(field, "sourceLabels"), m.GetSourceLabels(), r)
	validateGatewayNames(path(field, "gateways"), m.GetGateways(), r)
}

// validateSNIHost: an SNI host must be a domain, and one the VirtualService's hosts cover, or the
// route could never be selected for it.
func validateSNIHost(field string, sni string, vs *networking.VirtualService, onGateway bool, r *report) {
	reason := wildcardDomainProblem(sni)
	if onGateway {
		reason = gatewayVirtualHostProblem(true, sni)
	}
	if reason != "" {
		if isIPAddress(sni) {
			r.warnf(field, "using an IP address (%q) goes against SNI spec and most clients do not support this", sni)
			return
		}
		r.errorf(field, "%s", reason)
		return
	}
	for _, h := range vs.GetHosts() {
		if hostSubsetOf(sni, h) {
			return
		}
	}
	r.errorf(field, "SNI host %q is not a compatible subset of any of the virtual service hosts: [%s]", sni, strings.Join(vs.GetHosts(), ", "))
}

func validateTCPRoute(field string, t *networking.TCPRoute, r *report) {
	if t == nil {
		return
	}
	for i, m := range t.GetMatch() {
		f := path(path(field, "match"), i)
		if m == nil {
			r.errorf(f, "tcp match may not be null")
			continue
		}
		for j, s := range m.GetDestinationSubnets() {
			validateIPOrCIDR(path(path(f, "destinationSubnets"), j), s, r)
		}
		if m.GetPort() != 0 {
			validatePortNumber(path(f, "port"), m.GetPort(), r)
		}
		validateLabels(path(f, "sourceLabels"), m.GetSourceLabels(), r)
		validateGatewayNames(path(f, "gateways"), m.GetGateways(), r)
	}
	if len(t.GetRoute()) == 0 {
		r.errorf(path(field, "route"), "TCP route is required")
	}
	validateRouteDestinations(path(field, "route"), t.GetRoute(), r, nil)
}
