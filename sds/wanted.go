package sds

import (
	"maps"
	"slices"
	"strings"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// FileCredential is one file-backed credential a Gateway names, as the Store holds it: a serving
// pair (StoreName "file-cert:<Cert>~<Key>") or client-verification roots with an optional CRL
// (StoreName "file-root:<CA>"). Paths are kept exactly as written, because Envoy asks for the
// resource by the same string.
type FileCredential struct {
	StoreName string
	Cert      string
	Key       string
	CA        string
	CRL       string
}

// FileCertName is the SDS resource (and Store) name of a certificate/key file pair.
func FileCertName(cert, key string) string { return FileCertPrefix + cert + "~" + key }

// FileRootName is the SDS resource (and Store) name of a CA bundle file.
func FileRootName(ca string) string { return FileRootPrefix + ca }

// WantedResources lists the SDS resource names a gateway workload needs for the Gateways that
// select it, sorted and without duplicates: the names istiod would give Envoy for each server's
// tls block.
func WantedResources(snap *policy.Snapshot, workload policy.Workload) []string {
	set := map[string]bool{}
	for _, tls := range servedTLS(snap, workload) {
		for _, n := range secretResources(tls) {
			set[n] = true
		}
	}
	for _, f := range WantedFiles(snap, workload) {
		set[f.StoreName] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// WantedFiles lists the file credentials a gateway workload needs, sorted by StoreName.
//
// caCrl rides on the file-root credential of the same server's caCertificates (data key
// ca.crl), since Envoy only applies a CRL together with the CA it belongs to. When two servers
// share a caCertificates path, the first CRL in Gateway order (oldest first, then server order)
// is used for both. A caCrl without caCertificates is not watched: the client CA then comes from
// a Secret, and Istio requires such a CRL to be in that Secret (key ca.crl).
func WantedFiles(snap *policy.Snapshot, workload policy.Workload) []FileCredential {
	byName := map[string]FileCredential{}
	addRoot := func(ca, crl string) {
		if ca == "" {
			return
		}
		name := FileRootName(ca)
		if f, ok := byName[name]; ok {
			if f.CRL == "" {
				f.CRL = crl
				byName[name] = f
			}
			return
		}
		byName[name] = FileCredential{StoreName: name, CA: ca, CRL: crl}
	}
	addPair := func(cert, key string) {
		if cert == "" || key == "" {
			return
		}
		name := FileCertName(cert, key)
		byName[name] = FileCredential{StoreName: name, Cert: cert, Key: key}
	}
	for _, tls := range servedTLS(snap, workload) {
		if usesSecrets(tls) {
			// Istio reads a server's files only when it names no Secret.
			continue
		}
		addPair(tls.GetServerCertificate(), tls.GetPrivateKey())
		for _, c := range tls.GetTlsCertificates() {
			addPair(c.GetServerCertificate(), c.GetPrivateKey())
		}
		// Only mutual servers verify clients, and caCertCredentialName takes precedence over any
		// CA file, as it does over a Secret's own CA.
		if !isMutual(tls) || tls.GetCaCertCredentialName() != "" {
			continue
		}
		addRoot(tls.GetCaCertificates(), tls.GetCaCrl())
		for _, c := range tls.GetTlsCertificates() {
			addRoot(c.GetCaCertificates(), tls.GetCaCrl())
		}
	}
	out := slices.Collect(maps.Values(byName))
	slices.SortFunc(out, func(a, b FileCredential) int { return strings.Compare(a.StoreName, b.StoreName) })
	return out
}

// servedTLS returns the tls blocks that present or verify certificates on the Gateways that
// select the workload (from any namespace, Istio's default), oldest Gateway first. PASSTHROUGH
// and AUTO_PASSTHROUGH never touch a certificate; ISTIO_MUTUAL uses the workload identity from
// the CA, not a named credential.
func servedTLS(snap *policy.Snapshot, workload policy.Workload) []*networking.ServerTLSSettings {
	if snap == nil {
		return nil
	}
	var out []*networking.ServerTLSSettings
	for _, gw := range snap.List(policy.KindGateway) {
		spec, ok := gw.Spec.(*networking.Gateway)
		if !ok || !policy.SelectorMatches(spec.GetSelector(), workload.Labels) {
			continue
		}
		for _, srv := range spec.GetServers() {
			tls := srv.GetTls()
			switch tls.GetMode() {
			case networking.ServerTLSSettings_SIMPLE, networking.ServerTLSSettings_MUTUAL, networking.ServerTLSSettings_OPTIONAL_MUTUAL:
				out = append(out, tls)
			}
		}
	}
	return out
}

func usesSecrets(tls *networking.ServerTLSSettings) bool {
	return tls.GetCredentialName() != "" || len(tls.GetCredentialNames()) > 0
}

func isMutual(tls *networking.ServerTLSSettings) bool {
	m := tls.GetMode()
	return m == networking.ServerTLSSettings_MUTUAL || m == networking.ServerTLSSettings_OPTIONAL_MUTUAL
}

// secretResources are the kubernetes:// names of one tls block. A mutual server verifies clients
// with caCertCredentialName when set (it takes precedence over the credential's own CA), else with
// "<credentialName>-cacert", which the Store resolves to the separate Secret or the credential's
// ca.crt.
func secretResources(tls *networking.ServerTLSSettings) []string {
	var names []string
	if n := tls.GetCredentialName(); n != "" {
		names = append(names, n)
	}
	names = append(names, tls.GetCredentialNames()...)
	var out []string
	for _, n := range names {
		out = append(out, KubernetesPrefix+n)
		if isMutual(tls) && tls.GetCaCertCredentialName() == "" {
			out = append(out, KubernetesPrefix+n+CACertSuffix)
		}
	}
	if ca := tls.GetCaCertCredentialName(); ca != "" && isMutual(tls) {
		out = append(out, KubernetesPrefix+ca)
	}
	return out
}
