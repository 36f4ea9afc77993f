package validation

import (
	"strings"

	networking "istio.io/api/networking/v1alpha3"
)

// meshGateway is the reserved gateway name for "the sidecars of the mesh".
const meshGateway = "mesh"

func validateVirtualService(meta Meta, vs *networking.VirtualService, r *report) {
	// A VirtualService without hosts is a delegate: only reachable from a root's http.delegate,
	// so it cannot bind gateways and only HTTP can be delegated.
	delegate := len(vs.GetHosts()) == 0
	if delegate {
		if len(vs.GetGateways()) > 0 {
			r.errorf("spec.gateways", "delegate virtual service must have no gateways specified")
		}
		if len(vs.GetTls()) > 0 {
			r.errorf("spec.tls", "delegate virtual service must have no tls route specified")
		}
		if len(vs.GetTcp()) > 0 {
			r.errorf("spec.tcp", "delegate virtual service must have no tcp route specified")
		}
	}
	validateGatewayNames("spec.gateways", vs.GetGateways(), r)
	onGateway := boundToGateways(vs)
	if !onGateway {
		validateNoJWTClaimRoutes(vs, r)
	}
	validateVirtualServiceHosts(vs, onGateway, r)

	if len(vs.GetHttp()) == 0 && len(vs.GetTcp()) == 0 && len(vs.GetTls()) == 0 {
		r.errorf("spec", "http, tcp or tls must be provided in virtual service")
	}
	for i, h := range vs.GetHttp() {
		if h == nil {
			r.errorf(path("spec.http", i), "http route may not be null")
			continue
		}
		validateHTTPRoute(path("spec.http", i), h, delegate, r)
	}
	for i, t := range vs.GetTls() {
		validateTLSRoute(path("spec.tls", i), t, vs, onGateway, r)
	}
	for i, t := range vs.GetTcp() {
		validateTCPRoute(path("spec.tcp", i), t, r)
	}
	validateExportTo("spec.exportTo", namespaceOf(meta), vs.GetExportTo(), exportToRules{}, r)
	warnUnreachableRoutes(vs, r)
}

// boundToGateways: the VirtualService applies only to gateways, not to the mesh's sidecars.
func boundToGateways(vs *networking.VirtualService) bool {
	if len(vs.GetGateways()) == 0 {
		return false
	}
	for _, g := range vs.GetGateways() {
		if g == meshGateway {
			return false
		}
	}
	return true
}

// routesOnSNI: some TLS route matches on SNI, which lets gateway hosts take Istio's generated
// "outbound_" SNI form.
func routesOnSNI(vs *networking.VirtualService) bool {
	for _, t := range vs.GetTls() {
		for _, m := range t.GetMatch() {
			if len(m.GetSniHosts()) > 0 {
				return true
			}
		}
	}
	return false
}

// validateNoJWTClaimRoutes: claims exist only where a gateway validated a JWT; sidecars cannot
// route on them.
func validateNoJWTClaimRoutes(vs *networking.VirtualService, r *report) {
	for i, h := range vs.GetHttp() {
		for j, m := range h.GetMatch() {
			f := path(path(path("spec.http", i), "match"), j)
			for _, k := range sortedKeys(m.GetHeaders()) {
				if isJWTClaimRoute(k) {
					r.errorf(keyPath(path(f, "headers"), k), "JWT claim based routing (key: %s) is only supported for gateway, found no gateways: %v", k, vs.GetGateways())
				}
			}
			for _, k := range sortedKeys(m.GetWithoutHeaders()) {
				if isJWTClaimRoute(k) {
					r.errorf(keyPath(path(f, "withoutHeaders"), k), "JWT claim based routing (key: %s) is only supported for gateway, found no gateways: %v", k, vs.GetGateways())
				}
			}
		}
	}
}

func validateVirtualServiceHosts(vs *networking.VirtualService, onGateway bool, r *report) {
	allValid := true
	sni := routesOnSNI(vs)
	for i, h := range vs.GetHosts() {
		f := path("spec.hosts", i)
		reason := wildcardDomainProblem(h)
		if onGateway {
			reason = gatewayVirtualHostProblem(sni, h)
		}
		switch {
		case reason != "" && !isIPAddress(h):
			r.errorf(f, "%s", reason)
			allValid = false
		case reason == "" && !onGateway && h == "*":
			r.errorf(f, "wildcard host * is not allowed for virtual services bound to the mesh gateway")
			allValid = false
		}
	}
	if !allValid {
		return
	}
	// "*.foo.com" and "*.com" in one VirtualService would claim the same names twice.
	hosts := vs.GetHosts()
	for i := range hosts {
		for j := i + 1; j < len(hosts); j++ {
			if hostsOverlap(hosts[i], hosts[j]) {
				r.errorf(path("spec.hosts", j), "duplicate hosts in virtual service: %s & %s", hosts[i], hosts[j])
			}
		}
	}
}

// validateGatewayNames checks references to Gateways: "namespace/name", or a bare name meaning
// the VirtualService's own namespace, or "mesh". The legacy "name.namespace" form still works but
// is ambiguous with FQDNs.
func validateGatewayNames(field string, names []string, r *report) {
	for i, g := range names {
		f := path(field, i)
		ns, name, ok := strings.Cut(g, "/")
		if !ok {
			if first, rest, dotted := strings.Cut(g, "."); dotted {
				second, _, _ := strings.Cut(rest, ".")
				r.warnf(f, "using legacy gatewayName format %q; prefer the <namespace>/<name> format: %q", g, second+"/"+first)
			}
			validateFQDN(f, g, r)
			continue
		}
		switch {
		case ns == "" || name == "":
			r.errorf(f, "config namespace and gateway name cannot be empty: %q", g)
		default:
			if !isDNS1123Label(ns) {
				r.errorf(f, "invalid value for namespace: %q", ns)
			}
			if !isDNS1123Label(name) {
				r.errorf(f, "invalid value for gateway name: %q", name)
			}
		}
	}
}
