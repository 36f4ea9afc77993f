package policy

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// KindBootstrapToken is the Gatehouse kind (gatehouse.dev/v1alpha1) that lets a workload with no
// certificate yet obtain its first one from the workload CA (issue 9). Istio has no such kind:
// istiod authenticates first CSRs with Kubernetes service-account tokens instead.
const KindBootstrapToken Kind = "BootstrapToken"

// BootstrapToken is the spec of a BootstrapToken resource: a secret token, read from a Secret in
// the resource's namespace, that the CA redeems for ONE identity,
// spiffe://<trustDomain>/ns/<resource namespace>/sa/<ServiceAccount>, at most MaxUses times and
// never after Expires. Decoding fills every default, so the value in a Snapshot is the compiled
// form.
type BootstrapToken struct {
	// ServiceAccount is the identity's service account, a DNS-1123 label.
	ServiceAccount string `yaml:"serviceAccount" json:"serviceAccount"`
	// Token is the Secret key holding the token (at least MinBootstrapTokenBytes bytes).
	Token SecretKeyRef `yaml:"token" json:"token"`
	// MaxUses is how many certificates the token may obtain; 1 (one-time) when left out.
	MaxUses int `yaml:"maxUses" json:"maxUses"`
	// Expires is when the token stops being redeemable; nil means never.
	Expires *time.Time `yaml:"expires" json:"expires,omitempty"`
}

// MinBootstrapTokenBytes is the shortest token worth its name: 128 bits, as Kubernetes
// bootstrap tokens' secret part (16 characters) is meant to resist guessing.
const MinBootstrapTokenBytes = 16

// bootstrapTokenSpec is BootstrapToken as written: MaxUses a pointer so an explicit 0 is told from
// a left-out field, and Expires a string so a bad timestamp is an error at its own field rather
// than a decoder message about the whole spec.
type bootstrapTokenSpec struct {
	ServiceAccount string       `yaml:"serviceAccount"`
	Token          SecretKeyRef `yaml:"token"`
	MaxUses        *int         `yaml:"maxUses"`
	Expires        string       `yaml:"expires"`
}

// decodeBootstrapToken decodes and validates a BootstrapToken spec; nil when it has errors, which
// go to d with the line of the field concerned.
func decodeBootstrapToken(spec *yaml.Node, r *Resource, d *protoDecoder) *BootstrapToken {
	var w bootstrapTokenSpec
	if !decodeStruct(spec, "spec", &w, d) {
		return nil
	}
	before := len(d.errors)
	b := bootstrapTokenValidator{oidcValidator{r: r, d: d}}.validate(&w)
	if len(d.errors) > before {
		return nil
	}
	return b
}
