package sds

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"
)

// spiffeLeaf issues a client certificate whose identity is a SPIFFE URI SAN.
func (ca *testCA) spiffeLeaf(t *testing.T, id string, serial int64) (certPEM, keyPEM []byte) {
	t.Helper()
	u, err := url.Parse(id)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{Organization: []string{"mesh"}}, URIs: []*url.URL{u},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

func TestDebugCertsJSON(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "root")
	now := time.Now()
	store := NewStore(StoreOptions{Now: func() time.Time { return now }})
	web, webKey := ca.validLeaf(t, "web.example.com", 0xab)
	svc, svcKey := ca.spiffeLeaf(t, "spiffe://cluster.local/ns/default/sa/svc", 3)
	_, otherKey := ca.validLeaf(t, "other.example.com", 4)
	crl := ca.crl(t, 9)
	store.ReplaceSource("files", map[string]map[string][]byte{
		"istio-system/web":       {"tls.crt": web, "tls.key": webKey, "ca.crt": ca.pem, "ca.crl": crl},
		"istio-system/client-ca": {"cacert": ca.pem},
		"istio-system/svc":       {"cert": svc, "key": svcKey},
		"istio-system/broken":    {"tls.crt": web, "tls.key": otherKey},
	})
	// A bad update to a good credential: the last good one is shown with the rejection.
	store.ReplaceSource("files", map[string]map[string][]byte{
		"istio-system/web":       {"tls.crt": web, "tls.key": webKey, "ca.crt": ca.pem, "ca.crl": crl},
		"istio-system/client-ca": {"cacert": ca.pem},
		"istio-system/svc":       {"cert": svc, "key": otherKey},
		"istio-system/broken":    {"tls.crt": web, "tls.key": otherKey},
	})

	out, err := DebugCertsJSON(store)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range [][]byte{webKey, svcKey, otherKey, web, ca.pem, crl} {
		body := strings.Split(string(secret), "\n")[1] // the first base64 line of the PEM body
		if strings.Contains(string(out), body) {
			t.Fatalf("PEM content in /debug/certs:\n%s", out)
		}
	}
	for _, banned := range []string{"BEGIN", "PRIVATE KEY"} {
		if strings.Contains(string(out), banned) {
			t.Fatalf("%q in /debug/certs:\n%s", banned, out)
		}
	}

	var got debugCerts
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if v, _ := store.Version(); got.Version != v {
		t.Errorf("version %d, want %d", got.Version, v)
	}
	byName := map[string]debugCredential{}
	var order []string
	for _, c := range got.Credentials {
		byName[c.Name] = c
		order = append(order, c.Name)
	}
	if want := "istio-system/broken,istio-system/client-ca,istio-system/svc,istio-system/web"; strings.Join(order, ",") != want {
		t.Fatalf("credentials %s, want %s", strings.Join(order, ","), want)
	}

	tests := []struct {
		name  string
		check func(c debugCredential) bool
	}{
		{"istio-system/web", func(c debugCredential) bool {
			return c.Serial == "ab" && c.Subject == "CN=web.example.com" && c.Issuer == "CN=root" &&
				strings.Join(c.DNSNames, ",") == "web.example.com" && c.HasKey && c.ChainLength == 1 &&
				c.HasRoots && len(c.Roots) == 1 && c.Roots[0].Subject == "CN=root" &&
				c.HasCRL && c.CRL != nil && c.CRL.Revoked == 1 && c.CRL.Issuer == "CN=root" &&
				c.SecondsLeft != nil && *c.SecondsLeft > 0 && *c.SecondsLeft <= 3600 &&
				len(c.SHA256) == 64 && c.Rejected == "" && c.Version > 0
		}},
		{"istio-system/client-ca", func(c debugCredential) bool {
			return !c.HasKey && c.HasRoots && c.Subject == "CN=root" && c.Serial == "1" && !c.HasCRL
		}},
		{"istio-system/svc", func(c debugCredential) bool {
			return c.Serial == "3" && strings.Join(c.URIs, ",") == "spiffe://cluster.local/ns/default/sa/svc" &&
				strings.Contains(c.Rejected, "private key does not match")
		}},
		{"istio-system/broken", func(c debugCredential) bool {
			return c.Serial == "" && c.Version == 0 && c.NotAfter == nil && strings.Contains(c.Rejected, "private key does not match")
		}},
	}
	for _, tt := range tests {
		if c := byName[tt.name]; !tt.check(c) {
			j, _ := json.MarshalIndent(c, "", "  ")
			t.Errorf("%s:\n%s", tt.name, j)
		}
	}
}

func TestDebugCertsJSONEmpty(t *testing.T) {
	t.Parallel()
	out, err := DebugCertsJSON(NewStore(StoreOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"version\": 0,\n  \"credentials\": []\n}"; string(out) != want {
		t.Fatalf("got %s, want %s", out, want)
	}
}
