package sds

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// gatewayDoc is a Gateway with one HTTPS server per tls block, each on its own port.
func gatewayDoc(name, selector string, tls ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: %s, namespace: istio-system}\nspec:\n  selector: {%s}\n  servers:\n", name, selector)
	for i, t := range tls {
		fmt.Fprintf(&b, "  - port: {number: %d, name: https-%d, protocol: HTTPS}\n    hosts: [\"h%d.example.com\"]\n    tls: %s\n", 8443+i, i, i, t)
	}
	return b.String()
}

func TestWantedResources(t *testing.T) {
	t.Parallel()
	const ours = "istio: ingressgateway"
	tests := []struct {
		name  string
		docs  []string
		want  []string
		files []FileCredential
	}{
		{
			name: "SIMPLE credentialName",
			docs: []string{gatewayDoc("gw", ours, `{mode: SIMPLE, credentialName: web}`)},
			want: []string{"kubernetes://web"},
		},
		{
			name: "MUTUAL also wants the -cacert resource",
			docs: []string{gatewayDoc("gw", ours, `{mode: MUTUAL, credentialName: web}`)},
			want: []string{"kubernetes://web", "kubernetes://web-cacert"},
		},
		{
			name: "caCertCredentialName takes precedence over -cacert",
			docs: []string{gatewayDoc("gw", ours, `{mode: MUTUAL, credentialName: web, caCertCredentialName: client-ca}`)},
			want: []string{"kubernetes://client-ca", "kubernetes://web"},
		},
		{
			name: "OPTIONAL_MUTUAL with an RSA and an ECDSA credential",
			docs: []string{gatewayDoc("gw", ours, `{mode: OPTIONAL_MUTUAL, credentialNames: [web-rsa, web-ec]}`)},
			want: []string{"kubernetes://web-ec", "kubernetes://web-ec-cacert", "kubernetes://web-rsa", "kubernetes://web-rsa-cacert"},
		},
		{
			name: "a Secret's server ignores file fields, as Istio does",
			docs: []string{gatewayDoc("gw", ours, `{mode: MUTUAL, credentialName: web, caCertificates: /etc/ca.pem}`)},
			want: []string{"kubernetes://web", "kubernetes://web-cacert"},
		},
		{
			name:  "SIMPLE files",
			docs:  []string{gatewayDoc("gw", ours, `{mode: SIMPLE, serverCertificate: /etc/tls/c.pem, privateKey: /etc/tls/k.pem}`)},
			want:  []string{"file-cert:/etc/tls/c.pem~/etc/tls/k.pem"},
			files: []FileCredential{{StoreName: "file-cert:/etc/tls/c.pem~/etc/tls/k.pem", Cert: "/etc/tls/c.pem", Key: "/etc/tls/k.pem"}},
		},
		{
			name: "MUTUAL files: the CRL rides on the file-root credential",
			docs: []string{gatewayDoc("gw", ours, `{mode: MUTUAL, serverCertificate: /c.pem, privateKey: /k.pem, caCertificates: /ca.pem, caCrl: /ca.crl}`)},
			want: []string{"file-cert:/c.pem~/k.pem", "file-root:/ca.pem"},
			files: []FileCredential{
				{StoreName: "file-cert:/c.pem~/k.pem", Cert: "/c.pem", Key: "/k.pem"},
				{StoreName: "file-root:/ca.pem", CA: "/ca.pem", CRL: "/ca.crl"},
			},
		},
		{
			name:  "SIMPLE does not verify clients, so a CA file is not wanted",
			docs:  []string{gatewayDoc("gw", ours, `{mode: SIMPLE, serverCertificate: /c.pem, privateKey: /k.pem, caCertificates: /ca.pem}`)},
			want:  []string{"file-cert:/c.pem~/k.pem"},
			files: []FileCredential{{StoreName: "file-cert:/c.pem~/k.pem", Cert: "/c.pem", Key: "/k.pem"}},
		},
		{
			name:  "files with a client CA from a Secret",
			docs:  []string{gatewayDoc("gw", ours, `{mode: MUTUAL, serverCertificate: /c.pem, privateKey: /k.pem, caCertificates: /ca.pem, caCertCredentialName: client-ca}`)},
			want:  []string{"file-cert:/c.pem~/k.pem", "kubernetes://client-ca"},
			files: []FileCredential{{StoreName: "file-cert:/c.pem~/k.pem", Cert: "/c.pem", Key: "/k.pem"}},
		},
		{
			name: "tlsCertificates",
			docs: []string{gatewayDoc("gw", ours, `{mode: MUTUAL, caCertificates: /ca.pem, tlsCertificates: [{serverCertificate: /rsa.pem, privateKey: /rsa.key}, {serverCertificate: /ec.pem, privateKey: /ec.key}]}`)},
			want: []string{"file-cert:/ec.pem~/ec.key", "file-cert:/rsa.pem~/rsa.key", "file-root:/ca.pem"},
			files: []FileCredential{
				{StoreName: "file-cert:/ec.pem~/ec.key", Cert: "/ec.pem", Key: "/ec.key"},
				{StoreName: "file-cert:/rsa.pem~/rsa.key", Cert: "/rsa.pem", Key: "/rsa.key"},
				{StoreName: "file-root:/ca.pem", CA: "/ca.pem"},
			},
		},
		{
			name: "passthrough servers use no credential",
			docs: []string{gatewayDoc("gw", ours, `{mode: PASSTHROUGH}`, `{mode: AUTO_PASSTHROUGH}`)},
		},
		{
			name: "Gateways selecting another workload are not ours",
			docs: []string{gatewayDoc("gw", "istio: egressgateway", `{mode: SIMPLE, credentialName: web}`)},
		},
		{
			name: "shared names are listed once; a shared CA gets the first CRL in Gateway order",
			docs: []string{
				gatewayDoc("a", ours, `{mode: SIMPLE, credentialName: web}`, `{mode: MUTUAL, serverCertificate: /c.pem, privateKey: /k.pem, caCertificates: /ca.pem}`),
				gatewayDoc("b", "", `{mode: SIMPLE, credentialName: web}`, `{mode: MUTUAL, serverCertificate: /c.pem, privateKey: /k.pem, caCertificates: /ca.pem, caCrl: /b.crl}`),
				gatewayDoc("c", ours, `{mode: MUTUAL, serverCertificate: /c.pem, privateKey: /k.pem, caCertificates: /ca.pem, caCrl: /c.crl}`),
			},
			want: []string{"file-cert:/c.pem~/k.pem", "file-root:/ca.pem", "kubernetes://web"},
			files: []FileCredential{
				{StoreName: "file-cert:/c.pem~/k.pem", Cert: "/c.pem", Key: "/k.pem"},
				{StoreName: "file-root:/ca.pem", CA: "/ca.pem", CRL: "/b.crl"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			snap, problems := policy.ParseSnapshot(map[string][]byte{"gw.yaml": []byte(strings.Join(tt.docs, "---\n"))})
			if snap == nil {
				t.Fatalf("config rejected: %v", problems)
			}
			wl := policy.DefaultWorkload()
			if got := WantedResources(snap, wl); !slices.Equal(got, tt.want) {
				t.Errorf("WantedResources = %q, want %q", got, tt.want)
			}
			if got := WantedFiles(snap, wl); !slices.Equal(got, tt.files) {
				t.Errorf("WantedFiles = %+v, want %+v", got, tt.files)
			}
		})
	}
}

func TestWantedNilSnapshot(t *testing.T) {
	t.Parallel()
	if got := WantedResources(nil, policy.DefaultWorkload()); len(got) != 0 {
		t.Fatalf("WantedResources(nil) = %q", got)
	}
}
