package policy

import (
	"time"
)

// bootstrapTokens finds BootstrapTokens that cannot do what their author meant: their token
// Secret or key missing or too short, a token shared with another BootstrapToken (the CA knows a
// token by its value, so one value cannot bind two identities), or already expired.
func (a *analysis) bootstrapTokens() {
	now := time.Now()
	using := map[string]*Resource{}   // namespace/secret/key -> the oldest BootstrapToken using it
	holding := map[string]*Resource{} // token value -> the oldest BootstrapToken whose Secret holds it
	for _, r := range a.ofKind(KindBootstrapToken) {
		spec := r.Spec.(*BootstrapToken)
		ref := spec.Token
		key := r.Namespace + "/" + ref.Name + "/" + ref.Key
		if prev := using[key]; prev != nil {
			a.warn(r, "spec.token", "Secret %s/%s key %q also holds the token of the older BootstrapToken %s: a token value binds one identity, so give each BootstrapToken its own",
				r.Namespace, ref.Name, ref.Key, prev.NamespacedName())
		} else {
			using[key] = r
		}
		if v, ok := a.bootstrapSecret(r, ref); ok && using[key] == r {
			// Never echo the value: it is secret material.
			if prev := holding[string(v)]; prev != nil {
				a.warn(r, "spec.token", "Secret %s/%s key %q holds the same token as the older BootstrapToken %s's: a token value binds one identity, so give each BootstrapToken its own",
					r.Namespace, ref.Name, ref.Key, prev.NamespacedName())
			} else {
				holding[string(v)] = r
			}
		}
		if e := spec.Expires; e != nil && !e.After(now) {
			a.warn(r, "spec.expires", "expired at %s: the CA refuses the token", e.Format(time.RFC3339))
		}
	}
}

// bootstrapSecret warns when the token Secret or its key is not among those loaded, in the
// BootstrapToken's namespace where it is read, or holds too short a token. It returns the token
// when the key is there.
func (a *analysis) bootstrapSecret(r *Resource, ref SecretKeyRef) ([]byte, bool) {
	var others []Secret
	for _, s := range a.cfg.Secrets {
		switch {
		case s.Name != ref.Name:
		case s.Namespace != r.Namespace:
			others = append(others, s)
		default:
			v, ok := s.Data[ref.Key]
			switch {
			case !ok:
				a.warn(r, "spec.token.key", "Secret %s/%s has no key %q", s.Namespace, ref.Name, ref.Key)
			case len(v) < MinBootstrapTokenBytes:
				// Never echo the value: it is secret material.
				a.warn(r, "spec.token.key", "Secret %s/%s key %q holds %d bytes: a token needs at least %d to resist guessing",
					s.Namespace, ref.Name, ref.Key, len(v), MinBootstrapTokenBytes)
			}
			return v, ok
		}
	}
	a.warn(r, "spec.token.name", "Secret %s/%s not found: it must be in the BootstrapToken's namespace%s", r.Namespace, ref.Name, elsewhere(others))
	return nil, false
}
