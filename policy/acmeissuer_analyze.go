package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	networking "istio.io/api/networking/v1alpha3"
)

// acmeIssuers finds ACMEIssuers that cannot do what their author meant: missing their EAB
// Secret, shadowed by an older issuer, competing with a Secret, out of this gateway's reach, or
// used by Gateway servers whose hosts or ports the certificate cannot serve.
func (a *analysis) acmeIssuers() {
	filling := map[string]*Resource{} // namespace/credentialName -> the oldest issuer filling it
	for _, r := range a.ofKind(KindACMEIssuer) {
		spec := r.Spec.(*ACMEIssuer)
		if eab := spec.ExternalAccountBinding; eab != nil {
			a.acmeSecret(r, "spec.externalAccountBinding.hmacKey.name", eab.HMACKey)
		}
		key := r.Namespace + "/" + spec.CredentialName
		if prev := filling[key]; prev != nil {
			a.warn(r, "spec.credentialName", "%q is also filled by the older ACMEIssuer %s, which is in force", spec.CredentialName, prev.NamespacedName())
			continue
		}
		filling[key] = r
		if r.Namespace != a.workload.Namespace {
			a.warn(r, "spec.credentialName", "fills %s, but this gateway reads credentialName Secrets from namespace %s: no Gateway here can use it",
				key, a.workload.Namespace)
		}
		for _, s := range a.cfg.Secrets {
			if s.Namespace == r.Namespace && s.Name == spec.CredentialName {
				a.warn(r, "spec.credentialName", "Secret %s also supplies this credential: the ACME certificate replaces it once issued "+
					"(the credential store merges its sources in name order, %q before %q, and the first to supply a name keeps it); the Secret serves only until then",
					key, "acme", CredentialSource)
			}
		}
	}
	a.acmeGateways()
}

// acmeSecret warns when the EAB Secret or its key is not among those loaded, in the issuer's
// namespace where it is read.
func (a *analysis) acmeSecret(r *Resource, field string, ref SecretKeyRef) {
	var others []Secret
	for _, s := range a.cfg.Secrets {
		switch {
		case s.Name != ref.Name:
		case s.Namespace != r.Namespace:
			others = append(others, s)
		default:
			if _, ok := s.Data[ref.Key]; !ok {
				a.warn(r, strings.TrimSuffix(field, ".name")+".key", "Secret %s/%s has no key %q", s.Namespace, ref.Name, ref.Key)
			}
			return
		}
	}
	a.warn(r, field, "Secret %s/%s not found: it must be in the ACMEIssuer's namespace%s", r.Namespace, ref.Name, elsewhere(others))
}

// acmeFiller returns the ACMEIssuer in force for a credential (the oldest of those filling it),
// or nil.
func (a *analysis) acmeFiller(namespace, credentialName string) *Resource {
	for _, r := range a.ofKind(KindACMEIssuer) {
		if r.Namespace == namespace && r.Spec.(*ACMEIssuer).CredentialName == credentialName {
			return r
		}
	}
	return nil
}

// acmeGateways checks the servers of this gateway's Gateways that serve an ACME certificate:
// each host must be one the certificate names, and the CA must be able to reach a challenge
// answer on port 80 (HTTP-01, RFC 8555 §8.3) or 443 (TLS-ALPN-01, RFC 8737 §3), the only ports
// it connects to.
func (a *analysis) acmeGateways() {
	type use struct {
		gw    *Resource
		field string
	}
	used := map[*Resource]use{} // issuer -> the first server using it
	var issuers []*Resource
	http80, tls443 := false, false
	for _, gw := range a.gateways() {
		if !a.ours(gw) {
			continue
		}
		for i, srv := range gw.Spec.(*networking.Gateway).GetServers() {
			port, proto := srv.GetPort().GetNumber(), strings.ToUpper(srv.GetPort().GetProtocol())
			http80 = http80 || port == 80 && proto == "HTTP"
			tls443 = tls443 || port == 443 && (proto == "HTTPS" || proto == "TLS")
			base := fmt.Sprintf("spec.servers[%d].tls", i)
			names := map[string]string{}
			if n := srv.GetTls().GetCredentialName(); n != "" {
				names[base+".credentialName"] = n
			}
			for j, n := range srv.GetTls().GetCredentialNames() {
				names[fmt.Sprintf("%s.credentialNames[%d]", base, j)] = n
			}
			for _, field := range slices.Sorted(maps.Keys(names)) {
				r := a.acmeFiller(a.workload.Namespace, names[field])
				if r == nil {
					continue
				}
				if _, seen := used[r]; !seen {
					used[r] = use{gw, field}
					issuers = append(issuers, r)
				}
				a.acmeHosts(gw, i, srv.GetHosts(), r)
			}
		}
	}
	for _, r := range issuers {
		a.acmeChallenges(r, used[r].gw, used[r].field, http80, tls443)
	}
}

// acmeHosts warns for each server host the issuer's certificate does not name. A wildcard host
// never is: the certificate names only the issuer's exact hosts.
func (a *analysis) acmeHosts(gw *Resource, server int, hosts []string, issuer *Resource) {
	spec := issuer.Spec.(*ACMEIssuer)
	for j, h := range hosts {
		_, host := SplitGatewayHost(h)
		if slices.Contains(spec.Hosts, strings.ToLower(host)) {
			continue
		}
		why := ""
		if strings.HasPrefix(host, "*") {
			why = " (an ACME certificate here names no wildcard: that needs DNS-01)"
		}
		a.warn(gw, fmt.Sprintf("spec.servers[%d].hosts[%d]", server, j),
			"host %q is outside ACMEIssuer %s's hosts (%s)%s: its clients will get a certificate that does not name it",
			host, issuer.NamespacedName(), strings.Join(spec.Hosts, ", "), why)
	}
}

// acmeChallenges warns when none of the issuer's challenges can be answered by this gateway.
func (a *analysis) acmeChallenges(r *Resource, gw *Resource, field string, http80, tls443 bool) {
	spec := r.Spec.(*ACMEIssuer)
	canHTTP := slices.Contains(spec.Challenges, ACMEChallengeHTTP01)
	canALPN := slices.Contains(spec.Challenges, ACMEChallengeTLSALPN01)
	if canHTTP && http80 || canALPN && tls443 {
		return
	}
	var missing []string
	if canALPN {
		missing = append(missing, "TLS-ALPN-01 needs an HTTPS or TLS server on port 443")
	}
	if canHTTP {
		missing = append(missing, "HTTP-01 needs an HTTP server on port 80")
	}
	a.warn(r, "spec.challenges", "Gateway %s uses this certificate (%s), but no challenge can be answered: %s, and this gateway's Gateways have none; the CA validates on ports 80 and 443 only",
		gw.NamespacedName(), field, strings.Join(missing, "; "))
}
