package policy

import (
	"fmt"

	security "istio.io/api/security/v1beta1"
	"maps"
	"slices"
	"strings"

	networking "istio.io/api/networking/v1alpha3"
)

// analyze finds problems across resources. All are warnings, as `istioctl analyze` reports them:
// Istio accepts such config, but it does not do what its author meant.
func analyze(c *Config, w Workload) Problems {
	a := analysis{cfg: c, workload: w, byKey: map[string]*Resource{}}
	for _, r := range c.Resources {
		a.byKey[r.Key()] = r
	}
	ordered := slices.Clone(c.Resources)
	SortOldestFirst(ordered)
	a.ordered = ordered
	a.gatewaySelectors()
	a.gatewayCredentials()
	a.gatewayConflicts()
	a.virtualServiceGateways()
	a.undefinedSubsets()
	a.customProviders()
	a.oidcLogins()
	a.acmeIssuers()
	a.bootstrapTokens()
	return a.out
}

type analysis struct {
	cfg      *Config
	workload Workload
	byKey    map[string]*Resource
	ordered  []*Resource
	out      Problems
}

func (a *analysis) warn(r *Resource, field, format string, args ...any) {
	a.out = append(a.out, problemAt(Warning, r, field, fmt.Sprintf(format, args...)))
}

func (a *analysis) gateways() []*Resource { return a.ofKind(KindGateway) }

func (a *analysis) ofKind(k Kind) []*Resource {
	var out []*Resource
	for _, r := range a.ordered {
		if r.Kind == k {
			out = append(out, r)
		}
	}
	return out
}

// ours reports whether a Gateway selects this gateway workload.
func (a *analysis) ours(gw *Resource) bool {
	return SelectorMatches(gw.Spec.(*networking.Gateway).GetSelector(), a.workload.Labels)
}

func (a *analysis) gatewaySelectors() {
	for _, gw := range a.gateways() {
		if !a.ours(gw) {
			a.warn(gw, "spec.selector", "selects no gateway workload here: this gateway is %s in namespace %s, so the Gateway is not served",
				labelString(a.workload.Labels), a.workload.Namespace)
		}
	}
}

func labelString(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

// gatewayCredentials checks that credentialName Secrets exist where Istio reads them: in the
// namespace of the gateway workload.
func (a *analysis) gatewayCredentials() {
	secrets := map[string][]Secret{} // name -> secrets of that name in any namespace
	for _, s := range a.cfg.Secrets {
		secrets[s.Name] = append(secrets[s.Name], s)
	}
	find := func(name string) (Secret, bool) {
		for _, s := range secrets[name] {
			if s.Namespace == a.workload.Namespace {
				return s, true
			}
		}
		return Secret{}, false
	}
	for _, gw := range a.gateways() {
		if !a.ours(gw) {
			continue
		}
		for i, srv := range gw.Spec.(*networking.Gateway).GetServers() {
			tls := srv.GetTls()
			base := fmt.Sprintf("spec.servers[%d].tls", i)
			names := map[string]string{}
			if n := tls.GetCredentialName(); n != "" {
				names[base+".credentialName"] = n
			}
			for j, n := range tls.GetCredentialNames() {
				names[fmt.Sprintf("%s.credentialNames[%d]", base, j)] = n
			}
			for _, field := range slices.Sorted(maps.Keys(names)) {
				name := names[field]
				s, ok := find(name)
				acme := a.acmeFiller(a.workload.Namespace, name)
				if !ok && acme == nil {
					a.warn(gw, field, "Secret %s/%s not found: credentialName Secrets must be in the gateway's namespace%s",
						a.workload.Namespace, name, elsewhere(secrets[name]))
					continue
				}
				mode := tls.GetMode()
				if mode == networking.ServerTLSSettings_MUTUAL || mode == networking.ServerTLSSettings_OPTIONAL_MUTUAL {
					_, ca1 := s.Data["ca.crt"]
					_, ca2 := s.Data["cacert"]
					_, sep := find(name + "-cacert")
					if acme != nil {
						// The ACME certificate, in force over a Secret of its name, carries no CA.
						ca1, ca2 = false, false
					}
					if !ca1 && !ca2 && !sep && tls.GetCaCertCredentialName() == "" {
						holder := fmt.Sprintf("Secret %s/%s has", s.Namespace, name)
						if acme != nil {
							holder = fmt.Sprintf("ACMEIssuer %s fills it with a certificate and key only, with", acme.NamespacedName())
						}
						a.warn(gw, field, "%s needs a CA to verify clients: %s no ca.crt or cacert key and there is no Secret %s-cacert",
							mode, holder, name)
					}
				}
			}
		}
	}
}

func elsewhere(found []Secret) string {
	var ns []string
	for _, s := range found {
		ns = append(ns, s.Namespace)
	}
	if len(ns) == 0 {
		return ""
	}
	slices.Sort(ns)
	return fmt.Sprintf(" (a Secret of that name exists in namespace %s)", strings.Join(ns, ", "))
}

// gatewayConflicts finds two Gateways claiming overlapping hosts on one port, as istioctl
// analyze's conflicting-gateways check does.
func (a *analysis) gatewayConflicts() {
	type claim struct {
		gw   *Resource
		host string
	}
	claims := map[uint32][]claim{}
	for _, gw := range a.gateways() {
		if !a.ours(gw) {
			continue
		}
		for i, srv := range gw.Spec.(*networking.Gateway).GetServers() {
			port := srv.GetPort().GetNumber()
			for j, h := range srv.GetHosts() {
				_, host := SplitGatewayHost(h)
				for _, c := range claims[port] {
					if c.gw != gw && HostsIntersect(c.host, host) {
						outcome := "the older Gateway's server wins the TLS handshake"
						if srv.GetTls() == nil {
							outcome = "their routes merge into one virtual host, the older Gateway's VirtualServices first"
						}
						a.warn(gw, fmt.Sprintf("spec.servers[%d].hosts[%d]", i, j),
							"host %q on port %d is also claimed by %q of the older Gateway %s: %s", host, port, c.host, c.gw.NamespacedName(), outcome)
						break
					}
				}
				claims[port] = append(claims[port], claim{gw, host})
			}
		}
	}
}

// virtualServiceGateways checks each gateways reference names a Gateway, and that the
// VirtualService's hosts match some server host of it.
func (a *analysis) virtualServiceGateways() {
	for _, vs := range a.ofKind(KindVirtualService) {
		spec := vs.Spec.(*networking.VirtualService)
		for i, ref := range spec.GetGateways() {
			a.gatewayRef(vs, fmt.Sprintf("spec.gateways[%d]", i), ref, spec.GetHosts())
		}
		for i, route := range spec.GetHttp() {
			for j, m := range route.GetMatch() {
				for k, ref := range m.GetGateways() {
					a.gatewayRef(vs, fmt.Sprintf("spec.http[%d].match[%d].gateways[%d]", i, j, k), ref, nil)
				}
			}
		}
	}
}

func (a *analysis) gatewayRef(vs *Resource, field, ref string, hosts []string) {
	ns, name, ok := GatewayRef(vs.Namespace, ref)
	if !ok {
		return
	}
	gw := a.byKey[string(KindGateway)+"/"+ns+"/"+name]
	if gw == nil {
		a.warn(vs, field, "Gateway %s/%s not found", ns, name)
		return
	}
	if len(hosts) == 0 {
		return
	}
	for _, srv := range gw.Spec.(*networking.Gateway).GetServers() {
		for _, sh := range srv.GetHosts() {
			sns, shost := SplitGatewayHost(sh)
			if sns != "*" && sns != vs.Namespace && !(sns == "." && gw.Namespace == vs.Namespace) {
				continue
			}
			for _, h := range hosts {
				if HostsIntersect(shost, h) {
					return
				}
			}
		}
	}
	a.warn(vs, field, "none of the VirtualService hosts (%s) matches a host of Gateway %s/%s that this namespace may bind", strings.Join(hosts, ", "), ns, name)
}

// undefinedSubsets checks every destination subset is defined by a DestinationRule for its host.
func (a *analysis) undefinedSubsets() {
	subsets := map[string]map[string]bool{} // FQDN host -> subset names
	for _, dr := range a.ofKind(KindDestinationRule) {
		spec := dr.Spec.(*networking.DestinationRule)
		h := FQDN(spec.GetHost(), dr.Namespace)
		if subsets[h] == nil {
			subsets[h] = map[string]bool{}
		}
		for _, s := range spec.GetSubsets() {
			subsets[h][s.GetName()] = true
		}
	}
	defined := func(host, subset string) bool {
		for h, names := range subsets {
			if names[subset] && HostMatches(h, host) {
				return true
			}
		}
		return false
	}
	for _, vs := range a.ofKind(KindVirtualService) {
		spec := vs.Spec.(*networking.VirtualService)
		check := func(field string, d *networking.Destination) {
			if d.GetSubset() != "" && !defined(FQDN(d.GetHost(), vs.Namespace), d.GetSubset()) {
				a.warn(vs, field+".subset", "subset %q of host %s is not defined by any DestinationRule", d.GetSubset(), d.GetHost())
			}
		}
		for i, r := range spec.GetHttp() {
			for j, d := range r.GetRoute() {
				check(fmt.Sprintf("spec.http[%d].route[%d].destination", i, j), d.GetDestination())
			}
			if r.GetMirror() != nil {
				check(fmt.Sprintf("spec.http[%d].mirror", i), r.GetMirror())
			}
		}
		for i, r := range spec.GetTcp() {
			for j, d := range r.GetRoute() {
				check(fmt.Sprintf("spec.tcp[%d].route[%d].destination", i, j), d.GetDestination())
			}
		}
		for i, r := range spec.GetTls() {
			for j, d := range r.GetRoute() {
				check(fmt.Sprintf("spec.tls[%d].route[%d].destination", i, j), d.GetDestination())
			}
		}
	}
}

// customProviders checks that every CUSTOM policy names a MeshConfig extensionProvider. Istio
// accepts the policy but denies every request it covers, so the author should hear about it.
func (a *analysis) customProviders() {
	known := map[string]bool{}
	mesh := a.cfg.Mesh
	if mesh == nil {
		mesh = DefaultMeshConfig()
	}
	for _, p := range mesh.GetExtensionProviders() {
		known[p.GetName()] = true
	}
	for _, ap := range a.ofKind(KindAuthorizationPolicy) {
		spec := ap.Spec.(*security.AuthorizationPolicy)
		if name := spec.GetProvider().GetName(); spec.GetAction() == security.AuthorizationPolicy_CUSTOM && name != "" && !known[name] {
			a.warn(ap, "spec.provider.name", "extension provider %q is not defined in MeshConfig extensionProviders: every request this policy covers will be denied", name)
		}
	}
}
