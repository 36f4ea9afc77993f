package validation

import (
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	meshconfig "istio.io/api/mesh/v1alpha1"
)

// meshRoot roots MeshConfig field paths: the MeshConfig is the `mesh` key of the `istio`
// ConfigMap, so that is where a user looks for "data.mesh.trustDomain".
const meshRoot = "data.mesh"

// maxConnectTimeout is Istio's sanity bound on connectTimeout.
const maxConnectTimeout = time.Hour

// validateMeshConfig checks the MeshConfig a user wrote. Istio validates the config after merging
// it over its defaults; here the user's own fields are seen alone, so a zero value means "left to
// the default" and is not checked. The trade-off: an explicit `trustDomain: ""` passes here, where
// Istio would refuse it.
func validateMeshConfig(mc *meshconfig.MeshConfig, r *report) {
	validateMeshTrustDomains(mc, r)
	if ns := mc.GetRootNamespace(); ns != "" && !isDNS1123Label(ns) {
		// Istio does not check it, but no namespace can carry this name, so no policy would be
		// mesh-wide.
		r.warnf(path(meshRoot, "rootNamespace"), "rootNamespace %q is not a valid namespace name (DNS-1123 label)", ns)
	}
	validateMeshDefaultExportTo(mc, r)
	validateMeshListenPort(path(meshRoot, "proxyListenPort"), mc.GetProxyListenPort(), r)
	if d := mc.GetConnectTimeout(); d != nil {
		f := path(meshRoot, "connectTimeout")
		validateDuration(f, d, r)
		if d.AsDuration() > maxConnectTimeout {
			r.errorf(f, "connectTimeout %v must be at most %v", d.AsDuration(), maxConnectTimeout)
		}
	}
	validateProtocolDetectionTimeout(path(meshRoot, "protocolDetectionTimeout"), mc.GetProtocolDetectionTimeout(), r)
	if d := mc.GetDnsRefreshRate(); d != nil {
		// istiod copies it into every DNS cluster, and Envoy refuses a dns_refresh_rate that
		// is not greater than 0s, so no DNS cluster would be served.
		f := path(meshRoot, "dnsRefreshRate")
		if err := d.CheckValid(); err != nil {
			r.errorf(f, "invalid duration: %v", err)
		} else if d.AsDuration() <= 0 {
			r.errorf(f, "dnsRefreshRate %v must be greater than 0s", d.AsDuration())
		}
	}
	for i, s := range mc.GetServiceSettings() {
		for j, h := range s.GetHosts() {
			validateWildcardDomain(path(path(path(path(meshRoot, "serviceSettings"), i), "hosts"), j), h, r)
		}
	}
	validateMeshTLS(mc, r)
	validateExtensionProviders(path(meshRoot, "extensionProviders"), mc.GetExtensionProviders(), r)
	validateProxyConfig(path(meshRoot, "defaultConfig"), mc.GetDefaultConfig(), r)
}

// validateMeshTrustDomains: the trust domain is the first part of every SPIFFE ID the mesh
// issues and accepts, so Istio requires DNS-like names.
func validateMeshTrustDomains(mc *meshconfig.MeshConfig, r *report) {
	if td := mc.GetTrustDomain(); td != "" {
		validateTrustDomain(path(meshRoot, "trustDomain"), td, r)
	}
	for i, alias := range mc.GetTrustDomainAliases() {
		validateTrustDomain(path(path(meshRoot, "trustDomainAliases"), i), alias, r)
	}
}

func validateTrustDomain(field, td string, r *report) {
	if td == "" {
		r.errorf(field, "empty trust domain name not allowed")
		return
	}
	labels := strings.Split(td, ".")
	for i, label := range labels {
		if i == len(labels)-1 && label == "" {
			break // one trailing dot is allowed: "example.com."
		}
		if !isDNS1123Label(label) {
			r.errorf(field, "trust domain name %q invalid: label %q is not a DNS-1123 label", td, label)
			return
		}
	}
	// Istio accepts upper case, but SPIFFE trust domains are lower case and SPIFFE libraries
	// refuse IDs that are not.
	if strings.ToLower(td) != td {
		r.warnf(field, "trust domain %q has upper case letters: SPIFFE IDs require a lower case trust domain", td)
	}
}

// validateMeshDefaultExportTo: Istio takes these lists as they are. They follow the exportTo
// syntax of the resources they default, so mistakes are reported, as warnings.
func validateMeshDefaultExportTo(mc *meshconfig.MeshConfig, r *report) {
	lists := []struct {
		name   string
		values []string
	}{
		{"defaultServiceExportTo", mc.GetDefaultServiceExportTo()},
		{"defaultVirtualServiceExportTo", mc.GetDefaultVirtualServiceExportTo()},
		{"defaultDestinationRuleExportTo", mc.GetDefaultDestinationRuleExportTo()},
	}
	for _, l := range lists {
		asWarnings(r, func(w *report) {
			validateExportTo(path(meshRoot, l.name), "", l.values, exportToRules{allowNone: true}, w)
		})
	}
}

// validateMeshListenPort checks an int32 port field where 0 means "default".
func validateMeshListenPort(field string, port int32, r *report) {
	if port != 0 && (port < 1 || port > 65535) {
		r.errorf(field, "port number %d must be in the range 1..65535", port)
	}
}

// validateProtocolDetectionTimeout: 0s is allowed and disables detection; otherwise Envoy needs
// whole milliseconds.
func validateProtocolDetectionTimeout(field string, d *durationpb.Duration, r *report) {
	if d == nil {
		return
	}
	if err := d.CheckValid(); err != nil {
		r.errorf(field, "invalid duration: %v", err)
		return
	}
	if d.AsDuration()%time.Millisecond != 0 {
		r.errorf(field, "duration %v: only durations to ms precision are supported", d.AsDuration())
	}
}

// validateMeshTLS checks meshMTLS (mesh-internal mTLS) and tlsDefaults (everything else).
func validateMeshTLS(mc *meshconfig.MeshConfig, r *report) {
	if len(mc.GetMeshMTLS().GetEcdhCurves()) > 0 {
		r.errorf(path(path(meshRoot, "meshMTLS"), "ecdhCurves"), "mesh TLS does not support ecdhCurves configuration")
	}
	f := path(path(meshRoot, "tlsDefaults"), "ecdhCurves")
	seen := map[string]bool{}
	for i, c := range mc.GetTlsDefaults().GetEcdhCurves() {
		switch {
		case c != "" && !knownECDHCurves[c]:
			r.warnf(path(f, i), "unrecognized ECDH curve %q", c)
		case seen[c]:
			r.warnf(path(f, i), "duplicate ECDH curve %q", c)
		}
		seen[c] = true
	}
}

// knownECDHCurves are the curves Envoy's TLS library accepts in tlsDefaults.ecdhCurves.
var knownECDHCurves = map[string]bool{
	"P-224": true, "P-256": true, "P-384": true, "P-521": true,
	"X25519": true, "X25519Kyber768Draft00": true, "X25519MLKEM768": true,
}
