package policy

import (
	"time"

	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
)

// bootstrapTokenValidator checks one BootstrapToken spec as written and compiles it, reporting
// each problem at the line of the field it concerns. It shares OIDCLogin's reporting and Secret
// reference checks.
type bootstrapTokenValidator struct{ oidcValidator }

// validate returns the compiled spec; it is meaningful only when no error was reported.
func (v bootstrapTokenValidator) validate(w *bootstrapTokenSpec) *BootstrapToken {
	b := &BootstrapToken{ServiceAccount: w.ServiceAccount, Token: w.Token, MaxUses: 1}
	v.serviceAccount(w.ServiceAccount)
	v.secretKeyRef("spec.token", w.Token)
	if w.MaxUses != nil {
		b.MaxUses = *w.MaxUses
		if b.MaxUses < 1 {
			v.fail("spec.maxUses", "%d: must be at least 1 (1 is one-time, N allows N certificates; leave it out for one-time)", b.MaxUses)
		}
	}
	if w.Expires != "" {
		t, err := time.Parse(time.RFC3339, w.Expires)
		if err != nil {
			v.fail("spec.expires", "%q: want an RFC 3339 timestamp such as 2027-01-01T00:00:00Z", w.Expires)
		} else {
			b.Expires = &t
		}
	}
	return b
}

// serviceAccount becomes the last segment of the SPIFFE ID's path, /ns/<ns>/sa/<sa>; a DNS-1123
// label has no '/' or '.' that could make the ID ambiguous.
func (v bootstrapTokenValidator) serviceAccount(sa string) {
	const f = "spec.serviceAccount"
	if sa == "" {
		v.fail(f, "required: the service account of the identity the token obtains")
		return
	}
	for _, e := range k8svalidation.IsDNS1123Label(sa) {
		v.fail(f, "%q: %s", sa, e)
	}
}
