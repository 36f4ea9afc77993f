package kube

import (
	"encoding/base64"
	"maps"
	"slices"

	networking "istio.io/api/networking/v1alpha3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// cacertSuffix names the separate CA Secret of a mutual TLS credential, as Istio reads it.
const cacertSuffix = "-cacert"

// secretRefs lists the names of the Secrets in namespace that resources refer to: Gateways'
// credentialName(s) and caCertCredentialName (credentialName Secrets live in the gateway's
// namespace, whatever the Gateway's), "<credentialName>-cacert" for mutual servers, and the
// Secrets of Gatehouse kinds in namespace (they name Secrets in their own namespace).
func secretRefs(rs []*policy.Resource, namespace string) map[string]bool {
	refs := map[string]bool{}
	add := func(name string) {
		if name != "" {
			refs[name] = true
		}
	}
	for _, r := range rs {
		switch spec := r.Spec.(type) {
		case *networking.Gateway:
			for _, srv := range spec.GetServers() {
				tls := srv.GetTls()
				mutual := tls.GetMode() == networking.ServerTLSSettings_MUTUAL || tls.GetMode() == networking.ServerTLSSettings_OPTIONAL_MUTUAL
				for _, n := range append([]string{tls.GetCredentialName()}, tls.GetCredentialNames()...) {
					add(n)
					if mutual && n != "" {
						add(n + cacertSuffix)
					}
				}
				add(tls.GetCaCertCredentialName())
			}
		case *policy.OIDCLogin:
			if r.Namespace == namespace {
				add(spec.ClientSecret.Name)
				if spec.Session.Redis != nil {
					add(spec.Session.Redis.Keys.Name)
				}
			}
		case *policy.ACMEIssuer:
			if r.Namespace == namespace && spec.ExternalAccountBinding != nil {
				add(spec.ExternalAccountBinding.HMACKey.Name)
			}
		case *policy.BootstrapToken:
			if r.Namespace == namespace {
				add(spec.Token.Name)
			}
		}
	}
	return refs
}

// selectSecrets keeps the Secrets that are referenced or match the selector (nil selects none
// beyond the referenced), sorted by name.
func selectSecrets(all []*corev1.Secret, refs map[string]bool, selector labels.Selector) []*corev1.Secret {
	var out []*corev1.Secret
	for _, s := range all {
		if refs[s.Name] || (selector != nil && selector.Matches(labels.Set(s.Labels))) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b *corev1.Secret) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}

// secretNames are the "namespace/name" keys of Secrets, in order.
func secretNames(ss []*corev1.Secret) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		out = append(out, s.Namespace+"/"+s.Name)
	}
	return out
}

// sinkItems is what the CredentialSink gets: data by "namespace/name", as the Watcher gives it.
func sinkItems(ss []*corev1.Secret) map[string]map[string][]byte {
	out := make(map[string]map[string][]byte, len(ss))
	for _, s := range ss {
		out[s.Namespace+"/"+s.Name] = secretData(s)
	}
	return out
}

// secretData is a Secret's data with its stringData merged in, as the API server would store it
// (stringData is only set on objects that have not been through an API server).
func secretData(s *corev1.Secret) map[string][]byte {
	data := maps.Clone(s.Data)
	if data == nil {
		data = map[string][]byte{}
	}
	for k, v := range s.StringData {
		data[k] = []byte(v)
	}
	return data
}

// renderSecret renders a Secret for policy.Parse, whose analysis checks references against it
// (a missing key, a short bootstrap token). Labels and annotations are left out: nothing reads
// them, and kubectl's last-applied annotation would hold the data in plain text.
func renderSecret(s *corev1.Secret) ([]byte, error) {
	raw := secretData(s)
	data := make(map[string]string, len(raw))
	for k, v := range raw {
		data[k] = base64.StdEncoding.EncodeToString(v)
	}
	body := map[string]any{"data": data}
	if s.Type != "" {
		body["type"] = string(s.Type)
	}
	return renderDoc("v1", "Secret", map[string]any{"name": s.Name, "namespace": s.Namespace}, body)
}
