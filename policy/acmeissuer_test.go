package policy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// acmeSpec writes an ACMEIssuer whose spec is a valid minimal one with the given top-level fields
// replaced ("" removes one) or added, in a fixed order so lines are predictable: the document
// starts at line 1 and spec's first field, directoryURL, is on line 5;
// fields left out take no line.
func acmeSpec(overrides map[string]string) string {
	base := []struct{ key, value string }{
		{"directoryURL", "https://acme.example.com/directory"},
		{"email", ""},
		{"externalAccountBinding", ""},
		{"challenges", ""},
		{"hosts", "[www.example.com]"},
		{"credentialName", "public-cert"},
		{"caBundle", ""},
		{"renewBefore", ""}, // not a field: for the unknown-field case
	}
	var b strings.Builder
	b.WriteString("apiVersion: gatehouse.dev/v1alpha1\nkind: ACMEIssuer\nmetadata: {name: public, namespace: istio-system}\nspec:\n")
	for _, f := range base {
		v, ok := overrides[f.key]
		if !ok {
			v = f.value
		}
		if v != "" {
			b.WriteString("  " + f.key + ": " + v + "\n")
		}
	}
	return b.String()
}

// testCertPEM is a self-signed CA certificate, PEM-encoded.
func testCertPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ACME root"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(0, 0).Add(100 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// TestACMEIssuerValidation: every check names the field and the line it was written on.
func TestACMEIssuerValidation(t *testing.T) {
	t.Parallel()
	const at = "acme.yaml:"
	const res = "ACMEIssuer/istio-system/public: "
	cert := testCertPEM(t)
	q := strconv.Quote
	manyHosts := make([]string, MaxACMEHosts+1)
	for i := range manyHosts {
		manyHosts[i] = "h" + strconv.Itoa(i) + ".example.com"
	}
	for _, tt := range []struct {
		name      string
		overrides map[string]string
		want      string // a substring of the one error; "" for none
	}{
		{"minimal", nil, ""},
		{"full", map[string]string{
			"email":                  "ops@example.com",
			"externalAccountBinding": "{keyID: kid-1, hmacKey: {name: acme-eab, key: hmac}}",
			"challenges":             "[HTTP-01, TLS-ALPN-01]",
			"hosts":                  "[www.example.com, Example.COM, localhost]",
			"caBundle":               q(cert + cert),
		}, ""},
		{"loopback http directory", map[string]string{"directoryURL": "http://127.0.0.1:14000/dir"}, ""},
		{"localhost http directory", map[string]string{"directoryURL": "http://localhost:14000/dir"}, ""},
		{"ipv6 loopback directory", map[string]string{"directoryURL": "http://[::1]:14000/dir"}, ""},
		{"directory with query", map[string]string{"directoryURL": "https://acme.example.com/dir?x=1"}, ""},
		{"empty challenges", map[string]string{"challenges": "[]"}, ""},
		{"no directory", map[string]string{"directoryURL": ""}, at + "4: " + res + "spec.directoryURL: required"},
		{"directory not a URL", map[string]string{"directoryURL": "acme.example.com"}, at + "5: " + res + `spec.directoryURL: "acme.example.com": want an https URL`},
		{"remote http directory", map[string]string{"directoryURL": "http://acme.example.com/dir"}, "http is accepted only for loopback hosts"},
		{"directory with fragment", map[string]string{"directoryURL": "'https://acme.example.com/dir#x'"}, "has no fragment"},
		{"directory with credentials", map[string]string{"directoryURL": "https://u:p@acme.example.com/dir"}, "must not hold credentials"},
		{"ftp directory", map[string]string{"directoryURL": "ftp://acme.example.com/dir"}, `scheme "ftp": want https`},
		{"bad email", map[string]string{"email": "ops"}, at + "6: " + res + `spec.email: "ops": not an email address`},
		{"email with name", map[string]string{"email": "'Ops <ops@example.com>'"}, `spec.email: "Ops <ops@example.com>": want a bare address such as ops@example.com`},
		{"eab no key id", map[string]string{"externalAccountBinding": "{hmacKey: {name: acme-eab, key: hmac}}"}, at + "6: " + res + "spec.externalAccountBinding.keyID: required"},
		{"eab no hmac key", map[string]string{"externalAccountBinding": "{keyID: kid-1}"}, "spec.externalAccountBinding.hmacKey: required"},
		{"eab no hmac key name", map[string]string{"externalAccountBinding": "{keyID: kid-1, hmacKey: {key: hmac}}"}, "spec.externalAccountBinding.hmacKey.name: required"},
		{"eab no hmac key key", map[string]string{"externalAccountBinding": "{keyID: kid-1, hmacKey: {name: acme-eab}}"}, "spec.externalAccountBinding.hmacKey.key: required"},
		{"eab unknown field", map[string]string{"externalAccountBinding": "{keyID: k, hmacKey: {name: n, key: k}, kid: x}"}, `spec.externalAccountBinding.kid: unknown field "kid"`},
		{"ca bundle not PEM", map[string]string{"caBundle": "not-pem"}, at + "8: " + res + "spec.caBundle: no PEM CERTIFICATE block"},
		{"ca bundle key block", map[string]string{"caBundle": q(cert + "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")}, "spec.caBundle: PEM block 2 is PRIVATE KEY, want CERTIFICATE"},
		{"ca bundle bad cert", map[string]string{"caBundle": q(cert + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")}, "spec.caBundle: PEM block 2: x509:"},
		{"ca bundle trailing text", map[string]string{"caBundle": q(cert + "garbage")}, "text after PEM block 1 is not a PEM block"},
		{"dns-01", map[string]string{"challenges": "[TLS-ALPN-01, DNS-01]"}, at + "6: " + res + `spec.challenges[1]: "DNS-01": DNS-01 is not supported`},
		{"lower-case challenge", map[string]string{"challenges": "[http-01]"}, `spec.challenges[0]: "http-01": write it HTTP-01`},
		{"unknown challenge", map[string]string{"challenges": "[TLS-SNI-01]"}, `want TLS-ALPN-01 or HTTP-01`},
		{"duplicate challenge", map[string]string{"challenges": "[HTTP-01, HTTP-01]"}, `spec.challenges[1]: "HTTP-01": also spec.challenges[0]`},
		{"challenge on its own line", map[string]string{"challenges": "\n  - TLS-ALPN-01\n  - dns-01"}, at + "8: " + res + `spec.challenges[1]: "dns-01": DNS-01 is not supported`},
		{"no hosts", map[string]string{"hosts": ""}, at + "4: " + res + "spec.hosts: required"},
		{"empty hosts", map[string]string{"hosts": "[]"}, at + "6: " + res + "spec.hosts: required"},
		{"wildcard host", map[string]string{"hosts": "[www.example.com, '*.example.com']"}, `spec.hosts[1]: "*.example.com": wildcards need the DNS-01 challenge`},
		{"star host", map[string]string{"hosts": "['*']"}, `spec.hosts[0]: "*": wildcards need`},
		{"ip host", map[string]string{"hosts": "[192.0.2.1]"}, `spec.hosts[0]: "192.0.2.1": an IP address`},
		{"ipv6 host", map[string]string{"hosts": "['2001:db8::1']"}, `spec.hosts[0]: "2001:db8::1": an IP address`},
		{"bad host", map[string]string{"hosts": "[www_example.com]"}, `spec.hosts[0]: "www_example.com": a lowercase RFC 1123 subdomain`},
		{"duplicate host", map[string]string{"hosts": "[www.example.com, WWW.example.com]"}, `spec.hosts[1]: "www.example.com": also spec.hosts[0]`},
		{"too many hosts", map[string]string{"hosts": "[" + strings.Join(manyHosts, ", ") + "]"}, "spec.hosts: 101 hosts: at most 100"},
		{"no credential name", map[string]string{"credentialName": ""}, at + "4: " + res + "spec.credentialName: required"},
		{"bad credential name", map[string]string{"credentialName": "Public_Cert"}, at + "7: " + res + `spec.credentialName: "Public_Cert"`},
		{"unknown field", map[string]string{"renewBefore": "720h"}, `spec.renewBefore: unknown field "renewBefore"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, problems := ParseSnapshot(map[string][]byte{"acme.yaml": []byte(acmeSpec(tt.overrides))})
			var errs []string
			for _, p := range problems {
				if p.Severity == Error {
					errs = append(errs, p.String())
				}
			}
			switch {
			case tt.want == "" && len(errs) > 0:
				t.Errorf("want no error, got %q", errs)
			case tt.want != "" && (len(errs) != 1 || !strings.Contains(errs[0], tt.want)):
				t.Errorf("want one error containing %q, got %q", tt.want, errs)
			}
		})
	}
}

// TestACMEIssuerDefaults: the snapshot holds the compiled form, challenges filled and hosts
// lower-cased.
func TestACMEIssuerDefaults(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		overrides map[string]string
		want      ACMEIssuer
	}{
		{"minimal", nil, ACMEIssuer{
			DirectoryURL: "https://acme.example.com/directory", Challenges: []string{"TLS-ALPN-01", "HTTP-01"},
			Hosts: []string{"www.example.com"}, CredentialName: "public-cert",
		}},
		{"written", map[string]string{
			"email": "ops@example.com", "externalAccountBinding": "{keyID: kid-1, hmacKey: {name: acme-eab, key: hmac}}",
			"challenges": "[HTTP-01]", "hosts": "[WWW.Example.com, example.com]",
		}, ACMEIssuer{
			DirectoryURL: "https://acme.example.com/directory", Email: "ops@example.com",
			ExternalAccountBinding: &ACMEExternalAccountBinding{KeyID: "kid-1", HMACKey: SecretKeyRef{Name: "acme-eab", Key: "hmac"}},
			Challenges:             []string{"HTTP-01"}, Hosts: []string{"www.example.com", "example.com"}, CredentialName: "public-cert",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			snap, problems := ParseSnapshot(map[string][]byte{"acme.yaml": []byte(acmeSpec(tt.overrides))})
			if snap == nil {
				t.Fatalf("rejected: %v", problems.Err())
			}
			rs := snap.List(KindACMEIssuer)
			if len(rs) != 1 {
				t.Fatalf("want one ACMEIssuer, got %d", len(rs))
			}
			if got := rs[0].Spec.(*ACMEIssuer); !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

// TestACMEIssuerAnalysis: the warnings `gatehouse validate` prints for ACMEIssuers and the
// Gateways using their credentials, for the default workload (istio=ingressgateway in
// istio-system).
func TestACMEIssuerAnalysis(t *testing.T) {
	t.Parallel()
	issuer := func(name, ns, created, extra string) string {
		return "apiVersion: gatehouse.dev/v1alpha1\nkind: ACMEIssuer\nmetadata: {name: " + name + ", namespace: " + ns +
			", creationTimestamp: '" + created + "'}\nspec:\n  directoryURL: https://acme.example.com/dir\n" +
			"  hosts: [www.example.com, example.com]\n  credentialName: public-cert\n" + extra + "---\n"
	}
	gateway := func(servers string) string {
		return "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: istio-system}\n" +
			"spec:\n  selector: {istio: ingressgateway}\n  servers:\n" + servers + "---\n"
	}
	const https443 = "  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [www.example.com, 'shop/example.com']\n    tls: {mode: SIMPLE, credentialName: public-cert}\n"
	const http80 = "  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ['*']\n"
	secret := func(name, ns, data string) string {
		return "apiVersion: v1\nkind: Secret\nmetadata: {name: " + name + ", namespace: " + ns + "}\nstringData: " + data + "\n---\n"
	}
	const first = "2026-01-01T00:00:00Z"
	for _, tt := range []struct {
		name string
		docs string
		want []string // substrings of the warnings, in order; nil for none
	}{
		{"served", issuer("public", "istio-system", first, "") + gateway(https443), nil},
		{"credential counts as present", issuer("public", "istio-system", first, "") + gateway(https443+http80), nil},
		{"host outside", issuer("public", "istio-system", first, "") +
			gateway("  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [www.example.com, api.example.com, '*.example.com']\n    tls: {mode: SIMPLE, credentialName: public-cert}\n"),
			[]string{
				`Gateway/istio-system/gw: spec.servers[0].hosts[1]: host "api.example.com" is outside ACMEIssuer istio-system/public's hosts (www.example.com, example.com): its clients will get a certificate that does not name it`,
				`spec.servers[0].hosts[2]: host "*.example.com" is outside ACMEIssuer istio-system/public's hosts (www.example.com, example.com) (an ACME certificate here names no wildcard: that needs DNS-01)`,
			}},
		{"credentialNames", issuer("public", "istio-system", first, "") +
			gateway("  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [other.example.com]\n    tls: {mode: SIMPLE, credentialNames: [public-cert]}\n"),
			[]string{`spec.servers[0].hosts[0]: host "other.example.com" is outside ACMEIssuer istio-system/public's hosts`}},
		{"elsewhere", issuer("public", "shop", first, "") + gateway(https443), []string{
			"ACMEIssuer/shop/public: spec.credentialName: fills shop/public-cert, but this gateway reads credentialName Secrets from namespace istio-system",
			"Gateway/istio-system/gw: spec.servers[0].tls.credentialName: Secret istio-system/public-cert not found",
		}},
		{"shadowed", issuer("public", "istio-system", first, "") + issuer("again", "istio-system", "2026-02-01T00:00:00Z", "") + gateway(https443), []string{
			`ACMEIssuer/istio-system/again: spec.credentialName: "public-cert" is also filled by the older ACMEIssuer istio-system/public, which is in force`,
		}},
		{"competing secret", issuer("public", "istio-system", first, "") + secret("public-cert", "istio-system", "{tls.crt: x, tls.key: y}") + gateway(https443), []string{
			`spec.credentialName: Secret istio-system/public-cert also supplies this credential: the ACME certificate replaces it once issued (the credential store merges its sources in name order, "acme" before "files", and the first to supply a name keeps it); the Secret serves only until then`,
		}},
		{"eab secret missing", issuer("public", "istio-system", first, "  externalAccountBinding: {keyID: k, hmacKey: {name: acme-eab, key: hmac}}\n") +
			secret("acme-eab", "shop", "{hmac: x}") + gateway(https443), []string{
			"spec.externalAccountBinding.hmacKey.name: Secret istio-system/acme-eab not found: it must be in the ACMEIssuer's namespace (a Secret of that name exists in namespace shop)",
		}},
		{"eab key missing", issuer("public", "istio-system", first, "  externalAccountBinding: {keyID: k, hmacKey: {name: acme-eab, key: hmac}}\n") +
			secret("acme-eab", "istio-system", "{other: x}") + gateway(https443), []string{
			`spec.externalAccountBinding.hmacKey.key: Secret istio-system/acme-eab has no key "hmac"`,
		}},
		{"eab present", issuer("public", "istio-system", first, "  externalAccountBinding: {keyID: k, hmacKey: {name: acme-eab, key: hmac}}\n") +
			secret("acme-eab", "istio-system", "{hmac: x}") + gateway(https443), nil},
		{"http-01 without port 80", issuer("public", "istio-system", first, "  challenges: [HTTP-01]\n") + gateway(https443), []string{
			"ACMEIssuer/istio-system/public: spec.challenges: Gateway istio-system/gw uses this certificate (spec.servers[0].tls.credentialName), but no challenge can be answered: HTTP-01 needs an HTTP server on port 80, and this gateway's Gateways have none; the CA validates on ports 80 and 443 only",
		}},
		{"http-01 with port 80", issuer("public", "istio-system", first, "  challenges: [HTTP-01]\n") + gateway(https443+http80), nil},
		{"tls-alpn-01 without port 443", issuer("public", "istio-system", first, "  challenges: [TLS-ALPN-01]\n") +
			gateway("  - port: {number: 8443, name: https, protocol: HTTPS}\n    hosts: [www.example.com]\n    tls: {mode: SIMPLE, credentialName: public-cert}\n"+http80), []string{
			"no challenge can be answered: TLS-ALPN-01 needs an HTTPS or TLS server on port 443, and this gateway's Gateways have none",
		}},
		{"neither port", issuer("public", "istio-system", first, "") +
			gateway("  - port: {number: 8443, name: https, protocol: HTTPS}\n    hosts: [www.example.com]\n    tls: {mode: SIMPLE, credentialName: public-cert}\n"), []string{
			"TLS-ALPN-01 needs an HTTPS or TLS server on port 443; HTTP-01 needs an HTTP server on port 80, and this gateway's Gateways have none",
		}},
		{"mutual needs a CA", issuer("public", "istio-system", first, "") +
			gateway("  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [www.example.com]\n    tls: {mode: MUTUAL, credentialName: public-cert}\n"), []string{
			"spec.servers[0].tls.credentialName: MUTUAL needs a CA to verify clients: ACMEIssuer istio-system/public fills it with a certificate and key only, with no ca.crt or cacert key and there is no Secret public-cert-cacert",
		}},
		{"mutual with a CA Secret", issuer("public", "istio-system", first, "") + secret("public-cert-cacert", "istio-system", "{ca.crt: x}") +
			gateway("  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [www.example.com]\n    tls: {mode: MUTUAL, credentialName: public-cert}\n"), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := Parse(map[string][]byte{"acme.yaml": []byte(tt.docs)}, LoadOptions{Workload: DefaultWorkload()})
			var got []string
			for _, p := range cfg.Problems {
				if p.Severity == Error {
					t.Fatalf("unexpected error: %s", p)
				}
				got = append(got, p.String())
			}
			if len(got) != len(tt.want) {
				t.Fatalf("want %d warnings, got %d:\n%s", len(tt.want), len(got), strings.Join(got, "\n"))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %d: want it to contain %q, got %q", i, w, got[i])
				}
			}
		})
	}
}
