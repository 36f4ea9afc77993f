package validation

import (
	"strings"

	networking "istio.io/api/networking/v1alpha3"
)

// A credentialName of this form names a ConfigMap holding only a CA bundle, which may only come
// from the DestinationRule's own namespace.
const configMapCredentialPrefix = "configmap://"

// validateClientTLS checks a DestinationRule's (or port's) tls: how the proxy presents itself to,
// and verifies, the upstream. ns is the rule's namespace.
func validateClientTLS(field string, ns string, tls *networking.ClientTLSSettings, r *report) {
	if tls == nil {
		return
	}
	if rest, ok := strings.CutPrefix(tls.GetCredentialName(), configMapCredentialPrefix); ok {
		cmNS, name, qualified := strings.Cut(rest, "/")
		switch {
		case rest == "" || qualified && name == "":
			r.errorf(path(field, "credentialName"), "invalid configmap:// credentialName: missing ConfigMap name")
		case qualified && cmNS != ns:
			r.errorf(path(field, "credentialName"), "invalid configmap:// credentialName: namespace must match the configuration namespace %q", ns)
		}
	}
	mode := tls.GetMode()
	if tls.GetInsecureSkipVerify().GetValue() {
		switch {
		case mode == networking.ClientTLSSettings_SIMPLE &&
			(tls.GetCaCertificates() != "" || tls.GetCredentialName() != "" || tls.GetSubjectAltNames() != nil):
			r.errorf(path(field, "insecureSkipVerify"), "cannot specify caCertificates or credentialName or subjectAltNames when insecureSkipVerify is set true")
		case mode == networking.ClientTLSSettings_MUTUAL &&
			(tls.GetCaCertificates() != "" || tls.GetSubjectAltNames() != nil):
			// credentialName stays allowed: for MUTUAL it also carries the client certificate.
			r.errorf(path(field, "insecureSkipVerify"), "cannot specify caCertificates or subjectAltNames when insecureSkipVerify is set true")
		}
	}
	terminating := mode == networking.ClientTLSSettings_SIMPLE || mode == networking.ClientTLSSettings_MUTUAL
	if terminating && tls.GetCredentialName() != "" {
		if tls.GetClientCertificate() != "" || tls.GetCaCertificates() != "" || tls.GetPrivateKey() != "" || tls.GetCaCrl() != "" {
			r.errorf(path(field, "credentialName"), "cannot specify client certificates or CA certificate or CA CRL if credentialName is set")
		}
		return
	}
	if mode == networking.ClientTLSSettings_MUTUAL {
		if tls.GetClientCertificate() == "" {
			r.errorf(path(field, "clientCertificate"), "client certificate required for mutual tls")
		}
		if tls.GetPrivateKey() == "" {
			r.errorf(path(field, "privateKey"), "private key required for mutual tls")
		}
	}
}
