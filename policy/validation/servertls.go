package validation

import (
	"slices"

	networking "istio.io/api/networking/v1alpha3"
)

// validCipherSuites: the names BoringSSL (and so Envoy) accepts in a server's cipherSuites.
var validCipherSuites = setOf(
	"ECDHE-ECDSA-AES128-GCM-SHA256",
	"ECDHE-RSA-AES128-GCM-SHA256",
	"ECDHE-ECDSA-AES256-GCM-SHA384",
	"ECDHE-RSA-AES256-GCM-SHA384",
	"ECDHE-ECDSA-CHACHA20-POLY1305",
	"ECDHE-RSA-CHACHA20-POLY1305",
	"ECDHE-ECDSA-AES128-SHA",
	"ECDHE-RSA-AES128-SHA",
	"ECDHE-ECDSA-AES256-SHA",
	"ECDHE-RSA-AES256-SHA",
	"AES128-GCM-SHA256",
	"AES256-GCM-SHA384",
	"AES128-SHA",
	"AES256-SHA",
	"DES-CBC3-SHA",
)

// isValidCipherSuite also lets through OpenSSL cipher-list operators ("!", "-", "+", "@...") and
// "ALL", which are not names but are legal in a cipher list.
func isValidCipherSuite(cs string) bool {
	if cs == "" || cs == "ALL" {
		return true
	}
	c := cs[0]
	if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
		return true
	}
	return validCipherSuites[cs]
}

// The CRD caps credentialNames and tlsCertificates at two: one RSA and one ECDSA certificate.
const maxServerCertificates = 2

// validateServerTLS checks a Gateway server's tls block: which credential sources each mode needs
// or forbids, and the cipher and version settings Istio warns about.
func validateServerTLS(field string, tls *networking.ServerTLSSettings, r *report) {
	if tls == nil {
		return
	}
	validateServerTLSVersions(field, tls, r)
	if len(tls.GetCredentialNames()) > maxServerCertificates {
		r.errorf(path(field, "credentialNames"), "at most %d credentialNames may be set", maxServerCertificates)
	}
	if len(tls.GetTlsCertificates()) > maxServerCertificates {
		r.errorf(path(field, "tlsCertificates"), "at most %d tlsCertificates may be set", maxServerCertificates)
	}
	mode := tls.GetMode()
	switch {
	case mode == networking.ServerTLSSettings_ISTIO_MUTUAL:
		validateIstioMutualServerTLS(field, tls, r)
		return
	case isPassthroughMode(mode) && hasServerCredentials(tls):
		r.warnf(field, "%v mode does not use certificates, they will be ignored", mode)
	}
	if countCredentialSources(tls) > 1 {
		r.errorf(field, "only one of credentialName, credentialNames, serverCertificate/privateKey, tlsCertificates should be specified")
	}
	if mode == networking.ServerTLSSettings_SIMPLE || isMutualMode(mode) {
		validateTerminatingServerTLS(field, tls, r)
	}
	if tls.GetCaCrl() != "" {
		if tls.GetCredentialName() != "" {
			r.errorf(path(field, "caCrl"), "CRL is not supported with credentialName. CRL has to be specified in the credential")
		}
		if mode == networking.ServerTLSSettings_SIMPLE {
			r.errorf(path(field, "caCrl"), "CRL is not supported with SIMPLE TLS")
		}
	}
}

func isMutualMode(m networking.ServerTLSSettings_TLSmode) bool {
	return m == networking.ServerTLSSettings_MUTUAL || m == networking.ServerTLSSettings_OPTIONAL_MUTUAL
}

func validateServerTLSVersions(field string, tls *networking.ServerTLSSettings, r *report) {
	minV := tls.GetMinProtocolVersion()
	if (minV == networking.ServerTLSSettings_TLSV1_0 || minV == networking.ServerTLSSettings_TLSV1_1) && len(tls.GetCipherSuites()) == 0 {
		r.warnf(path(field, "minProtocolVersion"), "TLS version below TLSV1_2 require setting compatible ciphers as by default they no longer include compatible ciphers")
	}
	var invalid, duplicate []string
	seen := map[string]bool{}
	for _, cs := range tls.GetCipherSuites() {
		switch {
		case !isValidCipherSuite(cs):
			invalid = append(invalid, cs)
		case seen[cs]:
			duplicate = append(duplicate, cs)
		}
		seen[cs] = true
	}
	if len(invalid) > 0 {
		slices.Sort(invalid)
		r.warnf(path(field, "cipherSuites"), "ignoring invalid cipher suites: %v", slices.Compact(invalid))
	}
	if len(duplicate) > 0 {
		slices.Sort(duplicate)
		r.warnf(path(field, "cipherSuites"), "ignoring duplicate cipher suites: %v", slices.Compact(duplicate))
	}
}

// ISTIO_MUTUAL takes the workload identity from the mesh CA, so any certificate field is a
// mistake.
func validateIstioMutualServerTLS(field string, tls *networking.ServerTLSSettings, r *report) {
	for _, f := range []struct {
		set  bool
		name string
		what string
	}{
		{tls.GetServerCertificate() != "", "serverCertificate", "server certificate"},
		{tls.GetPrivateKey() != "", "privateKey", "private key"},
		{tls.GetCaCertificates() != "", "caCertificates", "CA bundle"},
		{len(tls.GetTlsCertificates()) > 0, "tlsCertificates", "tlsCertificates"},
		{tls.GetCredentialName() != "", "credentialName", "credentialName"},
		{len(tls.GetCredentialNames()) > 0, "credentialNames", "credentialNames"},
		{tls.GetCaCertCredentialName() != "", "caCertCredentialName", "caCertCredentialName"},
	} {
		if f.set {
			r.errorf(path(field, f.name), "ISTIO_MUTUAL TLS cannot have associated %s", f.what)
		}
	}
}

func hasServerCredentials(tls *networking.ServerTLSSettings) bool {
	return tls.GetCaCrl() != "" || tls.GetServerCertificate() != "" || tls.GetPrivateKey() != "" ||
		tls.GetCaCertificates() != "" || len(tls.GetTlsCertificates()) > 0 ||
		tls.GetCredentialName() != "" || len(tls.GetCredentialNames()) > 0 ||
		tls.GetCaCertCredentialName() != ""
}

func countCredentialSources(tls *networking.ServerTLSSettings) int {
	n := 0
	for _, set := range []bool{
		tls.GetServerCertificate() != "" && tls.GetPrivateKey() != "",
		tls.GetCredentialName() != "",
		len(tls.GetCredentialNames()) > 0,
		len(tls.GetTlsCertificates()) > 0,
	} {
		if set {
			n++
		}
	}
	return n
}

// validateTerminatingServerTLS: SIMPLE and (OPTIONAL_)MUTUAL need a certificate and key, either
// from a Secret (credentialName/credentialNames, which also carry the client CA) or as files.
// Mutual modes given files also need the client CA bundle.
func validateTerminatingServerTLS(field string, tls *networking.ServerTLSSettings, r *report) {
	if tls.GetCredentialName() != "" || len(tls.GetCredentialNames()) > 0 {
		return
	}
	mode := "SIMPLE TLS"
	if isMutualMode(tls.GetMode()) {
		mode = "MUTUAL TLS"
		if tls.GetCaCertificates() == "" && tls.GetCaCertCredentialName() == "" {
			r.errorf(field, "%s requires a client CA bundle (caCertificates) unless credentialName is set", mode)
		}
	}
	if certs := tls.GetTlsCertificates(); len(certs) > 0 {
		for i, c := range certs {
			f := path(path(field, "tlsCertificates"), i)
			if c.GetServerCertificate() == "" {
				r.errorf(path(f, "serverCertificate"), "%s requires a server certificate", mode)
			}
			if c.GetPrivateKey() == "" {
				r.errorf(path(f, "privateKey"), "%s requires a private key", mode)
			}
		}
		return
	}
	if tls.GetServerCertificate() == "" && tls.GetPrivateKey() == "" {
		r.errorf(field, "%s requires credentials: set credentialName (or credentialNames), or serverCertificate and privateKey", mode)
		return
	}
	if tls.GetServerCertificate() == "" {
		r.errorf(path(field, "serverCertificate"), "%s requires a server certificate", mode)
	}
	if tls.GetPrivateKey() == "" {
		r.errorf(path(field, "privateKey"), "%s requires a private key", mode)
	}
}
