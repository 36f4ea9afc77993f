package gateway

import (
	"slices"
	"strconv"
	"strings"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/sds"
)

// ISTIO_MUTUAL is the mesh's own mTLS: the gateway's workload identity and the mesh roots, both
// from the workload CA through the credential store under Istio's SDS resource names.
const (
	modeIstioMutual = "ISTIO_MUTUAL"
	// meshCertificate is SDS "default": the gateway's SPIFFE certificate and key.
	meshCertificate = "default"
	// meshRoots is SDS "ROOTCA": the mesh trust bundle.
	meshRoots = "ROOTCA"
	// tlsModeLabel marks an endpoint with a mesh proxy: value "istio" means it takes ISTIO_MUTUAL.
	tlsModeLabel = "security.istio.io/tlsMode"
)

// resolveCredential looks up a credential the gateway's TLS names: the mesh names are store
// names of their own (as Istio's SDS serves them, with no namespace), the rest Istio's resource
// names for a proxy in ns.
func resolveCredential(store *sds.Store, ns, name string) (*sds.Credential, bool) {
	if name == meshCertificate || name == meshRoots {
		return store.Get(name)
	}
	return store.Resolve(ns, name)
}

// meshALPN is what an Istio gateway offers an ISTIO_MUTUAL upstream it speaks HTTP to: the
// istio.alpn filter of its HTTP connection manager replaces the cluster's list ("istio-peer-exchange",
// "istio") by one per upstream protocol, "istio-http/1.1" or "istio-h2", then "istio", then the
// protocol itself, so an Istio inbound listener picks its mTLS HTTP filter chain and the server
// still selects http/1.1 or h2, which the gateway then speaks.
func meshALPN(protocol string) []string {
	if protocol == "HTTP2" {
		return []string{"istio-h2", "istio", "h2"}
	}
	return []string{"istio-http/1.1", "istio", "http/1.1"}
}

// meshSNI is Istio's SNI for ISTIO_MUTUAL without tls.sni (model.BuildDNSSrvSubsetKey):
// outbound_.<port>_.<subset>_.<host>, the name a remote network's gateway routes by.
func meshSNI(port uint32, subset, host string) string {
	return "outbound_." + strconv.FormatUint(uint64(port), 10) + "_." + subset + "_." + host
}

// trustDomains are MeshConfig trustDomain (default cluster.local) then trustDomainAliases.
func trustDomains(snap *policy.Snapshot) []string {
	td := snap.Mesh.GetTrustDomain()
	if td == "" {
		td = "cluster.local"
	}
	out := []string{td}
	for _, a := range snap.Mesh.GetTrustDomainAliases() {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// autoMTLS is MeshConfig enableAutoMtls, true unless set false, as in Istio.
func autoMTLS(snap *policy.Snapshot) bool {
	v := snap.Mesh.GetEnableAutoMtls()
	return v == nil || v.GetValue()
}

// serviceIdentities are the SPIFFE IDs a ServiceEntry's servers may present, as Istio computes a
// service's accounts for secure naming: its subjectAltNames, then the service account of every
// endpoint (ServiceEntry endpoint or selected WorkloadEntry) as spiffe://<trustDomain>/ns/<the
// entry's namespace>/sa/<serviceAccount>. The subset does not narrow them: Istio's are the
// service's.
func serviceIdentities(se *policy.Resource, spec *networking.ServiceEntry, eps []endpoint, trustDomain string) []string {
	out := slices.Clone(spec.GetSubjectAltNames())
	for _, ep := range eps {
		if ep.serviceAccount == "" {
			continue
		}
		id := "spiffe://" + trustDomain + "/ns/" + se.Namespace + "/sa/" + ep.serviceAccount
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// withTrustDomains adds, for every SPIFFE ID, the same workload in each trust domain, as Istio's
// spiffe.ExpandWithTrustDomains does for service accounts: a server whose certificate names an
// alias of the trust domain is the same workload.
func withTrustDomains(ids, domains []string) []string {
	out := slices.Clone(ids)
	for _, id := range ids {
		rest, ok := strings.CutPrefix(id, "spiffe://")
		if !ok {
			continue
		}
		_, path, ok := strings.Cut(rest, "/")
		if !ok {
			continue
		}
		for _, td := range domains {
			if alt := "spiffe://" + td + "/" + path; !slices.Contains(out, alt) {
				out = append(out, alt)
			}
		}
	}
	slices.Sort(out)
	return out
}

// meshTLS completes a cluster's ISTIO_MUTUAL once its endpoints are known, as Istio's
// buildUpstreamTLSSettings does: a DestinationRule's ISTIO_MUTUAL gets the auto SNI unless it sets
// sni, and the service's identities (in every trust domain) unless it sets subjectAltNames. With
// no tls from a DestinationRule, auto mTLS gives ISTIO_MUTUAL to the endpoints labelled
// security.istio.io/tlsMode: istio of a MESH_INTERNAL service; the others stay plaintext. The
// ALPN it sets is the HTTP routes' (forL4 gives tcp and tls routes theirs).
func (c *compiler) meshTLS(cl *Cluster, se *policy.Resource, spec *networking.ServiceEntry, eps []endpoint, port uint32, subset, host string) {
	t := cl.TLS
	switch {
	case t != nil && t.Mode == modeIstioMutual:
	case cl.tlsSet || cl.Location == "" || !autoMTLS(c.snap):
		// Istio leaves MESH_EXTERNAL services out of auto mTLS: they have no mesh proxy.
		return
	case !slices.ContainsFunc(cl.Endpoints, func(e *Endpoint) bool { return e.MeshTLS }):
		return
	default:
		t = &UpstreamTLS{Mode: modeIstioMutual, Auto: true}
		cl.TLS = t
	}
	if t.SNI == "" {
		t.SNI = meshSNI(port, subset, host)
	}
	if len(t.SubjectAltNames) == 0 {
		t.SubjectAltNames = withTrustDomains(serviceIdentities(se, spec, eps, trustDomains(c.snap)[0]), trustDomains(c.snap))
	}
	t.ALPN = meshALPN(cl.Protocol)
}

// istioMutualSettings is a DestinationRule's ISTIO_MUTUAL before meshTLS completes it; what
// Istio ignores with this mode draws a warning.
func (c *compiler) istioMutualSettings(dr *policy.Resource, field string, t *networking.ClientTLSSettings) *UpstreamTLS {
	var ignored []string
	for _, f := range []struct{ name, value string }{
		{"credentialName", t.GetCredentialName()}, {"clientCertificate", t.GetClientCertificate()},
		{"privateKey", t.GetPrivateKey()}, {"caCertificates", t.GetCaCertificates()}, {"caCrl", t.GetCaCrl()},
	} {
		if f.value != "" {
			ignored = append(ignored, f.name)
		}
	}
	if t.GetInsecureSkipVerify().GetValue() {
		ignored = append(ignored, "insecureSkipVerify")
	}
	if len(ignored) > 0 {
		c.problems.warn(dr, field, "ISTIO_MUTUAL uses the gateway's mesh certificate and the mesh roots: %s ignored", strings.Join(ignored, ", "))
	}
	return &UpstreamTLS{Mode: modeIstioMutual, SNI: t.GetSni(), SubjectAltNames: slices.Clone(t.GetSubjectAltNames())}
}

// appliesTo reports whether a connection to ep uses the cluster's TLS: auto mTLS only reaches
// the endpoints with a mesh proxy.
func (t *UpstreamTLS) appliesTo(ep *Endpoint) bool {
	return t != nil && (!t.Auto || ep != nil && ep.MeshTLS)
}

func meshTLSLabel(labels map[string]string) bool { return labels[tlsModeLabel] == "istio" }
