package policy

import (
	"slices"
)

// oidcLogins finds OIDCLogins that cannot do what their author meant: attached to nothing here,
// shadowed by an older login, or missing their Secrets.
func (a *analysis) oidcLogins() {
	authzProviders := map[string]bool{}
	for _, ep := range a.cfg.Mesh.GetExtensionProviders() {
		if ep.GetEnvoyExtAuthzGrpc() != nil || ep.GetEnvoyExtAuthzHttp() != nil {
			authzProviders[ep.GetName()] = true
		}
	}
	byProvider := map[string]*Resource{}
	var selecting *Resource // the oldest login selecting this gateway
	for _, r := range a.ofKind(KindOIDCLogin) {
		o := r.Spec.(*OIDCLogin)
		if p := o.Provider; p != "" {
			switch prev := byProvider[p]; {
			case !authzProviders[p]:
				a.warn(r, "spec.provider", "%q names no envoyExtAuthzHttp or envoyExtAuthzGrpc entry of MeshConfig extensionProviders; no CUSTOM AuthorizationPolicy can reach it", p)
			case prev != nil:
				a.warn(r, "spec.provider", "%q is also served by the older OIDCLogin %s, which is in force", p, prev.NamespacedName())
			default:
				byProvider[p] = r
			}
		}
		if o.Selector != nil {
			switch {
			case !a.oidcSelects(r, o.Selector):
				a.warn(r, "spec.selector", "selects no gateway workload here: this gateway is %s in namespace %s",
					labelString(a.workload.Labels), a.workload.Namespace)
			case selecting != nil:
				a.warn(r, "spec.selector", "this gateway is also selected by the older OIDCLogin %s, which is in force", selecting.NamespacedName())
			default:
				selecting = r
			}
		}
		a.oidcSecret(r, "spec.clientSecret.name", o.ClientSecret.Name, o.ClientSecret.Key)
		if rd := o.Session.Redis; rd != nil {
			a.oidcSecret(r, "spec.session.redis.keys.name", rd.Keys.Name, "")
		}
		if o.Headers.Groups.Name != "" && o.Headers.Groups.Claim == "groups" && !slices.Contains(o.Scopes, "groups") {
			a.warn(r, "spec.scopes", "the groups header maps the groups claim, but the groups scope is not requested; Dex sends that claim only for it")
		}
	}
}

// oidcSelects reports whether a login's selector takes this gateway: labels match, and the login
// is in the gateway's namespace or the root namespace, as Istio scopes a workload selector.
func (a *analysis) oidcSelects(r *Resource, s *OIDCSelector) bool {
	root := a.cfg.Mesh.GetRootNamespace()
	if r.Namespace != a.workload.Namespace && r.Namespace != root {
		return false
	}
	return SelectorMatches(s.MatchLabels, a.workload.Labels)
}

// oidcSecret warns when a referenced Secret (and key, when given) is not among those loaded, in
// the login's namespace where it is read.
func (a *analysis) oidcSecret(r *Resource, field, name, key string) {
	var others []Secret
	for _, s := range a.cfg.Secrets {
		if s.Name != name {
			continue
		}
		if s.Namespace != r.Namespace {
			others = append(others, s)
			continue
		}
		if _, ok := s.Data[key]; key != "" && !ok {
			a.warn(r, field, "Secret %s/%s has no key %q", s.Namespace, name, key)
		}
		return
	}
	a.warn(r, field, "Secret %s/%s not found: it must be in the OIDCLogin's namespace%s", r.Namespace, name, elsewhere(others))
}
