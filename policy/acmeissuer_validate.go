package policy

import (
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"

	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
)

// acmeValidator checks one ACMEIssuer spec, after defaults, reporting each problem at the line of
// the field it concerns. It shares OIDCLogin's reporting and Secret reference checks.
type acmeValidator struct{ oidcValidator }

func (v acmeValidator) validate(a *ACMEIssuer) {
	v.directoryURL(a.DirectoryURL)
	v.email(a.Email)
	if eab := a.ExternalAccountBinding; eab != nil {
		if eab.KeyID == "" {
			v.fail("spec.externalAccountBinding.keyID", "required: the key id the CA gave with the HMAC key")
		}
		v.secretKeyRef("spec.externalAccountBinding.hmacKey", eab.HMACKey)
	}
	v.caBundle(a.CABundle)
	v.challenges(a.Challenges)
	v.hosts(a.Hosts)
	if a.CredentialName == "" {
		v.fail("spec.credentialName", "required: the Secret name Gateways give as tls.credentialName")
	}
	for _, e := range k8svalidation.IsDNS1123Subdomain(a.CredentialName) {
		if a.CredentialName != "" {
			v.fail("spec.credentialName", "%q: %s", a.CredentialName, e)
		}
	}
}

// directoryURL: RFC 8555 §6.1 requires HTTPS. Plain http is accepted for loopback hosts only, as
// OIDCLogin's issuer, so tests can run Pebble on 127.0.0.1.
func (v acmeValidator) directoryURL(s string) {
	const f = "spec.directoryURL"
	if s == "" {
		v.fail(f, "required: the ACME directory URL, such as https://acme-v02.api.letsencrypt.org/directory")
		return
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		v.fail(f, "%q: want an https URL such as https://acme-v02.api.letsencrypt.org/directory", s)
	case u.User != nil:
		v.fail(f, "%q: must not hold credentials", u.Redacted())
	case u.Fragment != "" || strings.Contains(s, "#"):
		v.fail(f, "%q: a directory URL has no fragment", s)
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
	case u.Scheme == "http":
		v.fail(f, "%q: must be https (RFC 8555 §6.1); http is accepted only for loopback hosts (localhost, 127.0.0.0/8, ::1)", s)
	default:
		v.fail(f, "%q: scheme %q: want https", s, u.Scheme)
	}
}

// email must be a bare address: it becomes the account's mailto: contact, which takes no display
// name.
func (v acmeValidator) email(s string) {
	if s == "" {
		return
	}
	addr, err := mail.ParseAddress(s)
	switch {
	case err != nil:
		v.fail("spec.email", "%q: not an email address: %v", s, err)
	case addr.Name != "" || addr.Address != s:
		v.fail("spec.email", "%q: want a bare address such as %s", s, addr.Address)
	}
}

// caBundle must be PEM CERTIFICATE blocks only: anything else would be silently ignored by
// x509.CertPool.AppendCertsFromPEM, leaving the directory's HTTPS unverifiable.
func (v acmeValidator) caBundle(s string) {
	const f = "spec.caBundle"
	if s == "" {
		return
	}
	rest := []byte(s)
	n := 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		n++
		if b.Type != "CERTIFICATE" {
			v.fail(f, "PEM block %d is %s, want CERTIFICATE", n, b.Type)
			return
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			v.fail(f, "PEM block %d: %v", n, err)
			return
		}
	}
	switch {
	case n == 0:
		v.fail(f, "no PEM CERTIFICATE block")
	case strings.TrimSpace(string(rest)) != "":
		v.fail(f, "text after PEM block %d is not a PEM block", n)
	}
}

func (v acmeValidator) challenges(cs []string) {
	seen := map[string]int{}
	for i, c := range cs {
		f := "spec.challenges[" + strconv.Itoa(i) + "]"
		switch {
		case c == ACMEChallengeTLSALPN01, c == ACMEChallengeHTTP01:
		case strings.EqualFold(c, "DNS-01"):
			v.fail(f, "%q: DNS-01 is not supported (it needs a DNS provider's API); use TLS-ALPN-01 or HTTP-01", c)
			continue
		case strings.EqualFold(c, ACMEChallengeTLSALPN01), strings.EqualFold(c, ACMEChallengeHTTP01):
			v.fail(f, "%q: write it %s", c, strings.ToUpper(c))
			continue
		default:
			v.fail(f, "%q: want %s or %s", c, ACMEChallengeTLSALPN01, ACMEChallengeHTTP01)
			continue
		}
		if j, dup := seen[c]; dup {
			v.fail(f, "%q: also spec.challenges[%d]", c, j)
		}
		seen[c] = i
	}
}

// hosts are already lower-cased. Each becomes a dNSName identifier of the order (RFC 8555 §9.7.7).
func (v acmeValidator) hosts(hs []string) {
	if len(hs) == 0 {
		v.fail("spec.hosts", "required: the DNS names the certificate names")
		return
	}
	if len(hs) > MaxACMEHosts {
		v.fail("spec.hosts", "%d hosts: at most %d (Let's Encrypt's limit of names per certificate); split them across several ACMEIssuers", len(hs), MaxACMEHosts)
	}
	seen := map[string]int{}
	for i, h := range hs {
		f := "spec.hosts[" + strconv.Itoa(i) + "]"
		switch {
		case strings.HasPrefix(h, "*"):
			v.fail(f, "%q: wildcards need the DNS-01 challenge, which is not supported; name each host", h)
			continue
		case net.ParseIP(strings.Trim(h, "[]")) != nil:
			v.fail(f, "%q: an IP address; ACMEIssuer orders DNS names only", h)
			continue
		}
		errs := k8svalidation.IsDNS1123Subdomain(h)
		for _, e := range errs {
			v.fail(f, "%q: %s", h, e)
		}
		if len(errs) > 0 {
			continue
		}
		if j, dup := seen[h]; dup {
			v.fail(f, "%q: also spec.hosts[%d]", h, j)
		}
		seen[h] = i
	}
}
