package gateway

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/gatehouse-dev/gatehouse/sds"
)

// ServerTLS is how a filter chain terminates TLS, compiled from a server's ServerTLSSettings.
// Credentials are named, never held: the chain looks them up in the credential store at
// handshake time, so a rotated certificate needs no recompile.
type ServerTLS struct {
	// Namespace is where credential names resolve: the gateway workload's, where Istio reads
	// credentialName Secrets.
	Namespace string `yaml:"namespace"`
	// Certificates are the SDS resource names of the serving certificates, kubernetes://<name>
	// or file-cert:<cert>~<key>. With two (an RSA and an ECDSA one) each client gets the one it
	// supports, ECDSA first. ISTIO_MUTUAL serves "default", the mesh identity.
	Certificates []string `yaml:"certificates"`
	// ClientCA is the SDS resource name of the roots (and CRL) that verify client certificates
	// in the mutual modes: kubernetes://<name>-cacert, kubernetes://<caCertCredentialName> or
	// file-root:<caCertificates>; "ROOTCA", the mesh roots, for ISTIO_MUTUAL.
	ClientCA string `yaml:"clientCA,omitempty"`
	// MinVersion and MaxVersion bound the TLS version, TLSV1_2 to TLSV1_3 by default.
	MinVersion string `yaml:"minVersion"`
	MaxVersion string `yaml:"maxVersion"`
	// CipherSuites restrict TLS 1.2 and older; empty is Go's defaults. Names Envoy would not
	// accept are left out, as Istio filters them (validation reports them).
	CipherSuites []string `yaml:"cipherSuites,omitempty"`
	// ALPN is offered to clients: h2 and http/1.1 for HTTPS, nothing for TLS.
	ALPN []string `yaml:"alpn,omitempty"`
	// SubjectAltNames, when set, must include a SAN (URI, DNS, email or IP) of the client
	// certificate.
	SubjectAltNames []string `yaml:"subjectAltNames,omitempty"`
	// VerifyCertificateSpki and VerifyCertificateHash pin client certificates by the SHA-256 of
	// their SubjectPublicKeyInfo (base64) or of their DER (hex); matching either list is enough.
	VerifyCertificateSpki []string `yaml:"verifyCertificateSpki,omitempty"`
	VerifyCertificateHash []string `yaml:"verifyCertificateHash,omitempty"`

	minVersion, maxVersion uint16
	cipherSuites           []uint16
	spkiPins               map[[sha256.Size]byte]bool
	hashPins               map[[sha256.Size]byte]bool
}

// mutual reports whether the mode asks for client certificates.
func (t *ServerTLS) mutual() bool { return t.ClientCA != "" }

// identity is what clients negotiate with: settings whose change must not let a connection or a
// session ticket from before carry over.
func (t *ServerTLS) identity() string {
	return strings.Join([]string{
		t.Namespace, strings.Join(t.Certificates, ","), t.ClientCA, t.MinVersion, t.MaxVersion,
		strings.Join(t.CipherSuites, ","), strings.Join(t.ALPN, ","), strings.Join(t.SubjectAltNames, ","),
		strings.Join(t.VerifyCertificateSpki, ","), strings.Join(t.VerifyCertificateHash, ","),
	}, "|")
}

// serverTLS compiles a terminating server's TLS settings; ok=false (after an error) when it
// cannot be served.
func (c *compiler) serverTLS(s gatewayServer, http bool) (*ServerTLS, bool) {
	tls := s.server.GetTls()
	field := s.field("tls")
	out := &ServerTLS{Namespace: c.opts.Namespace}
	ok := true
	fail := func(sub, format string, args ...any) {
		c.problems.fail(s.gateway, field+sub, format, args...)
		ok = false
	}

	mode := tls.GetMode()
	if mode == networking.ServerTLSSettings_ISTIO_MUTUAL {
		// Istio serves the workload identity and requires a client certificate from the mesh;
		// validation refuses certificate fields with this mode. Missing credentials fail the
		// handshakes (and are logged) rather than the compile: the CA may deliver them later.
		// A TLS (not HTTPS) server offers no ALPN: Istio's "istio-peer-exchange" there would
		// have mesh clients send a metadata exchange preamble the gateway does not speak.
		out.Certificates, out.ClientCA = []string{meshCertificate}, meshRoots
	} else if out.Certificates = serverCertificates(tls); len(out.Certificates) == 0 {
		fail("", "%s needs a certificate: credentialName, credentialNames, serverCertificate and privateKey, or tlsCertificates", mode)
	}
	if mode == networking.ServerTLSSettings_MUTUAL || mode == networking.ServerTLSSettings_OPTIONAL_MUTUAL {
		out.ClientCA = clientCA(tls)
		if out.ClientCA == "" {
			fail("", "%s needs a CA to verify clients: credentialName, caCertCredentialName or caCertificates", mode)
		}
		if tls.GetCaCrl() != "" && !strings.HasPrefix(out.ClientCA, sds.FileRootPrefix) {
			// The CRL file is read with the caCertificates file; refusing beats serving without
			// the revocations the author asked for.
			fail(".caCrl", "caCrl is only applied together with caCertificates; put the CRL in the CA Secret (ca.crl) instead")
		}
	}

	minV, maxV := tls.GetMinProtocolVersion(), tls.GetMaxProtocolVersion()
	if minV == networking.ServerTLSSettings_TLS_AUTO {
		minV = defaultMinTLSVersion
	}
	if maxV == networking.ServerTLSSettings_TLS_AUTO {
		maxV = defaultMaxTLSVersion
	}
	out.MinVersion, out.MaxVersion = minV.String(), maxV.String()
	out.minVersion, out.maxVersion = tlsVersions[minV], tlsVersions[maxV]
	if out.minVersion == 0 || out.maxVersion == 0 || out.minVersion > out.maxVersion {
		fail(".minProtocolVersion", "minProtocolVersion %s is above maxProtocolVersion %s", minV, maxV)
	}

	for _, name := range tls.GetCipherSuites() {
		id, known := cipherSuiteIDs[name]
		if !known || containsID(out.cipherSuites, id) {
			continue
		}
		out.CipherSuites = append(out.CipherSuites, name)
		out.cipherSuites = append(out.cipherSuites, id)
	}
	if http {
		out.ALPN = []string{"h2", "http/1.1"}
	}
	out.SubjectAltNames = tls.GetSubjectAltNames()

	for i, pin := range tls.GetVerifyCertificateSpki() {
		sum, err := base64.StdEncoding.DecodeString(pin)
		if err != nil || len(sum) != sha256.Size {
			fail(fmt.Sprintf(".verifyCertificateSpki[%d]", i), "%q is not a base64 SHA-256 digest", pin)
			continue
		}
		if out.spkiPins == nil {
			out.spkiPins = map[[sha256.Size]byte]bool{}
		}
		out.spkiPins[[sha256.Size]byte(sum)] = true
		out.VerifyCertificateSpki = append(out.VerifyCertificateSpki, pin)
	}
	for i, pin := range tls.GetVerifyCertificateHash() {
		norm := strings.ToLower(strings.ReplaceAll(pin, ":", ""))
		sum, err := hex.DecodeString(norm)
		if err != nil || len(sum) != sha256.Size {
			fail(fmt.Sprintf(".verifyCertificateHash[%d]", i), "%q is not a hex SHA-256 digest", pin)
			continue
		}
		if out.hashPins == nil {
			out.hashPins = map[[sha256.Size]byte]bool{}
		}
		out.hashPins[[sha256.Size]byte(sum)] = true
		out.VerifyCertificateHash = append(out.VerifyCertificateHash, norm)
	}
	if !out.mutual() && (len(out.SubjectAltNames) > 0 || len(out.spkiPins) > 0 || len(out.hashPins) > 0) {
		c.problems.warn(s.gateway, field, "subjectAltNames and certificate pins verify client certificates, which %s does not ask for: ignored", mode)
	}
	return out, ok
}

func containsID(ids []uint16, id uint16) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// serverCertificates names the serving credentials in Istio's order of precedence.
func serverCertificates(tls *networking.ServerTLSSettings) []string {
	var out []string
	switch {
	case len(tls.GetCredentialNames()) > 0:
		for _, n := range tls.GetCredentialNames() {
			out = append(out, kubernetesResource(n))
		}
	case tls.GetCredentialName() != "":
		out = append(out, kubernetesResource(tls.GetCredentialName()))
	case len(tls.GetTlsCertificates()) > 0:
		for _, tc := range tls.GetTlsCertificates() {
			out = append(out, fileCertResource(tc.GetServerCertificate(), tc.GetPrivateKey()))
		}
	case tls.GetServerCertificate() != "" && tls.GetPrivateKey() != "":
		out = append(out, fileCertResource(tls.GetServerCertificate(), tls.GetPrivateKey()))
	}
	return out
}

// clientCA names the trust roots for client certificates: caCertCredentialName first, then
// Istio's "<credentialName>-cacert" (which the store resolves to that Secret, or to the ca.crt of
// the credential Secret itself), then the caCertificates file.
func clientCA(tls *networking.ServerTLSSettings) string {
	switch {
	case tls.GetCaCertCredentialName() != "":
		return kubernetesResource(tls.GetCaCertCredentialName())
	case tls.GetCredentialName() != "":
		return kubernetesResource(tls.GetCredentialName()) + sds.CACertSuffix
	case len(tls.GetCredentialNames()) > 0:
		return kubernetesResource(tls.GetCredentialNames()[0]) + sds.CACertSuffix
	case tls.GetCaCertificates() != "":
		return sds.FileRootPrefix + tls.GetCaCertificates()
	}
	for _, tc := range tls.GetTlsCertificates() {
		if tc.GetCaCertificates() != "" {
			return sds.FileRootPrefix + tc.GetCaCertificates()
		}
	}
	return ""
}

func kubernetesResource(name string) string {
	if strings.Contains(name, "://") {
		return name
	}
	return sds.KubernetesPrefix + name
}

func fileCertResource(cert, key string) string { return sds.FileCertPrefix + cert + "~" + key }
