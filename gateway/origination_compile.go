package gateway

import (
	networking "istio.io/api/networking/v1alpha3"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// compileOriginationTLS translates a DestinationRule tls for a cluster of host speaking
// protocol; nil means plaintext (DISABLE, or none). ISTIO_MUTUAL is completed by meshTLS.
func (c *compiler) compileOriginationTLS(dr *policy.Resource, field string, t *networking.ClientTLSSettings, host, protocol string) *UpstreamTLS {
	if t == nil {
		return nil
	}
	switch t.GetMode() {
	case networking.ClientTLSSettings_DISABLE:
		return nil
	case networking.ClientTLSSettings_ISTIO_MUTUAL:
		return c.istioMutualSettings(dr, field, t)
	}
	u := &UpstreamTLS{
		Mode:               t.GetMode().String(),
		CredentialName:     t.GetCredentialName(),
		CACertificates:     t.GetCaCertificates(),
		ClientCertificate:  t.GetClientCertificate(),
		PrivateKey:         t.GetPrivateKey(),
		SNI:                t.GetSni(),
		SubjectAltNames:    t.GetSubjectAltNames(),
		InsecureSkipVerify: t.GetInsecureSkipVerify().GetValue(),
		ALPN:               []string{"http/1.1"},
	}
	if u.CredentialName != "" {
		u.Namespace = c.opts.Namespace
	}
	if u.SNI == "" {
		u.SNI = host
	}
	if protocol == "HTTP2" {
		u.ALPN = []string{"h2"}
	}
	if u.Mode == "MUTUAL" && u.CredentialName == "" && (u.ClientCertificate == "" || u.PrivateKey == "") {
		c.problems.warn(dr, field, "MUTUAL needs credentialName or clientCertificate and privateKey: connections fail")
	}
	if t.GetCaCrl() != "" {
		c.problems.warn(dr, field+".caCrl", "caCrl is not applied to upstream TLS yet: ignored")
	}
	return u
}
