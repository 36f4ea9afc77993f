package policy

import (
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// KindACMEIssuer is the Gatehouse kind (gatehouse.dev/v1alpha1) that obtains and renews one
// certificate from an ACME CA (issue 8): Istio users get this from cert-manager instead.
const KindACMEIssuer Kind = "ACMEIssuer"

// ACMEIssuer is the spec of an ACMEIssuer resource: one ACME account at one directory and ONE
// certificate naming all of Hosts (one order with several identifiers), stored under
// CredentialName in the resource's namespace, where Gateways find it like any credentialName
// Secret. Split hosts across several ACMEIssuers for separate certificates. Decoding fills every
// default, so the value in a Snapshot is the compiled form.
type ACMEIssuer struct {
	// DirectoryURL is the ACME directory (RFC 8555 §7.1.1), such as Let's Encrypt's
	// https://acme-v02.api.letsencrypt.org/directory.
	DirectoryURL string `yaml:"directoryURL" json:"directoryURL"`
	// Email is the account's contact, sent as a mailto: URL; optional.
	Email string `yaml:"email" json:"email,omitempty"`
	// ExternalAccountBinding ties the account to one the CA already knows (RFC 8555 §7.3.4).
	ExternalAccountBinding *ACMEExternalAccountBinding `yaml:"externalAccountBinding" json:"externalAccountBinding,omitempty"`
	// CABundle is PEM roots trusted for the directory's HTTPS, for a private ACME CA (step-ca,
	// Pebble); empty means the system roots.
	CABundle string `yaml:"caBundle" json:"caBundle,omitempty"`
	// Challenges are the challenge types to answer, in order of preference;
	// DefaultACMEChallenges when empty.
	Challenges []string `yaml:"challenges" json:"challenges"`
	// Hosts are the DNS names the certificate names, lower-cased; nothing else is ever ordered.
	Hosts []string `yaml:"hosts" json:"hosts"`
	// CredentialName is the Secret name Gateways give as tls.credentialName.
	CredentialName string `yaml:"credentialName" json:"credentialName"`
}

// ACMEExternalAccountBinding is an EAB key id and its HMAC key. The Secret's value is the key
// base64url-encoded, as CAs hand it out; only the name enters the snapshot.
type ACMEExternalAccountBinding struct {
	KeyID   string       `yaml:"keyID" json:"keyID"`
	HMACKey SecretKeyRef `yaml:"hmacKey" json:"hmacKey"`
}

// Challenge types, written as RFC 8737 and RFC 8555 name them. DNS-01 is not supported: it needs
// a DNS provider's API.
const (
	ACMEChallengeTLSALPN01 = "TLS-ALPN-01"
	ACMEChallengeHTTP01    = "HTTP-01"
)

// DefaultACMEChallenges prefers TLS-ALPN-01: it is answered on the HTTPS port a gateway with
// ACME certificates serves anyway, while HTTP-01 also needs port 80.
var DefaultACMEChallenges = []string{ACMEChallengeTLSALPN01, ACMEChallengeHTTP01}

// MaxACMEHosts is Let's Encrypt's limit of names in one certificate.
const MaxACMEHosts = 100

// decodeACMEIssuer decodes and validates an ACMEIssuer spec; nil when it has errors, which go to
// d with the line of the field concerned.
func decodeACMEIssuer(spec *yaml.Node, r *Resource, d *protoDecoder) *ACMEIssuer {
	var a ACMEIssuer
	if !decodeStruct(spec, "spec", &a, d) {
		return nil
	}
	for _, list := range []string{"challenges", "hosts"} {
		if _, seq := mappingEntry(spec, list); seq != nil && seq.Kind == yaml.SequenceNode {
			for i, item := range seq.Content {
				d.lines["spec."+list+"["+strconv.Itoa(i)+"]"] = resolve(item).Line
			}
		}
	}
	before := len(d.errors)
	a.applyDefaults()
	acmeValidator{oidcValidator{r: r, d: d}}.validate(&a)
	if len(d.errors) > before {
		return nil
	}
	return &a
}

// applyDefaults fills the challenges and lower-cases hosts, as DNS names compare.
func (a *ACMEIssuer) applyDefaults() {
	if len(a.Challenges) == 0 {
		a.Challenges = slices.Clone(DefaultACMEChallenges)
	}
	for i, h := range a.Hosts {
		a.Hosts[i] = strings.ToLower(h)
	}
}
