package sds

import (
	"strings"
	"testing"
	"time"
)

func tlsSecret(cert, key, ca []byte) map[string][]byte {
	d := map[string][]byte{"tls.crt": cert, "tls.key": key}
	if ca != nil {
		d["ca.crt"] = ca
	}
	return d
}

func TestParseSecret(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "root")
	other := newTestCA(t, "other")
	cert, key := ca.validLeaf(t, "a.example.com", 10)
	_, otherKey := ca.validLeaf(t, "b.example.com", 11)
	expired, expiredKey := ca.leaf(t, "old.example.com", 12, time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour))
	tests := []struct {
		name    string
		data    map[string][]byte
		err     string
		warning string
		serial  string
		roots   bool
	}{
		{name: "kubernetes.io/tls layout", data: tlsSecret(cert, key, ca.pem), serial: "a", roots: true},
		{name: "istio generic layout", data: map[string][]byte{"cert": cert, "key": key, "cacert": ca.pem}, serial: "a", roots: true},
		{name: "trust only", data: map[string][]byte{"ca.crt": ca.pem}, roots: true},
		{name: "key does not match", data: tlsSecret(cert, otherKey, nil), err: "private key does not match the certificate"},
		{name: "malformed certificate", data: tlsSecret([]byte("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"), key, nil), err: "tls.crt: certificate 1: x509: malformed"},
		{name: "not PEM", data: tlsSecret([]byte("hello"), key, nil), err: "tls.crt: no PEM certificate found"},
		{name: "chain out of order", data: tlsSecret(append(append([]byte{}, ca.pem...), cert...), key, nil), err: "chain out of order"},
		{name: "chain from another CA", data: tlsSecret(append(append([]byte{}, cert...), other.pem...), key, nil), err: "chain out of order"},
		{name: "cert without key", data: map[string][]byte{"tls.crt": cert}, err: "no private key"},
		{name: "nothing usable", data: map[string][]byte{"foo": []byte("x")}, err: "no certificate and no CA"},
		{name: "expired loads with a warning", data: tlsSecret(expired, expiredKey, nil), warning: "expired", serial: "c"},
		{name: "bad CRL", data: map[string][]byte{"ca.crt": ca.pem, "ca.crl": []byte("nope")}, err: "ca.crl: not a valid CRL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, warnings, err := ParseSecret(tt.data, time.Now())
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				if strings.Contains(err.Error(), "PRIVATE KEY") {
					t.Fatalf("error quotes key material: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Serial() != tt.serial || (c.Roots != nil) != tt.roots {
				t.Errorf("serial %q roots %v", c.Serial(), c.Roots != nil)
			}
			if got := strings.Join(warnings, "; "); (tt.warning == "") != (got == "") || !strings.Contains(got, tt.warning) {
				t.Errorf("warnings %q, want %q", got, tt.warning)
			}
		})
	}
}

func TestStoreLastGoodAndSources(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "root")
	c1, k1 := ca.validLeaf(t, "a.example.com", 1)
	c2, k2 := ca.validLeaf(t, "a.example.com", 2)
	s := NewStore(StoreOptions{})

	s.ReplaceSource("files", map[string]map[string][]byte{"istio-system/a": tlsSecret(c1, k1, ca.pem)})
	v1, changed := s.Version()
	if c, ok := s.Get("istio-system/a"); !ok || c.Serial() != "1" {
		t.Fatal("credential not loaded")
	}

	// An invalid update is rejected: the last good credential keeps serving, nothing changes.
	s.ReplaceSource("files", map[string]map[string][]byte{"istio-system/a": tlsSecret(c2, k1, nil)})
	if c, _ := s.Get("istio-system/a"); c.Serial() != "1" {
		t.Fatalf("serial %s after a rejected update", c.Serial())
	}
	if err := s.Rejected("istio-system/a"); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("Rejected = %v", err)
	}
	if v, _ := s.Version(); v != v1 {
		t.Fatal("a rejected update changed the version")
	}

	// A valid rotation replaces it and wakes watchers.
	s.ReplaceSource("files", map[string]map[string][]byte{"istio-system/a": tlsSecret(c2, k2, ca.pem)})
	select {
	case <-changed:
	default:
		t.Fatal("rotation did not wake watchers")
	}
	if c, _ := s.Get("istio-system/a"); c.Serial() != "2" || s.Rejected("istio-system/a") != nil {
		t.Fatalf("serial %s after rotation", c.Serial())
	}

	// A second source cannot take a name the first (in name order) supplies; removing it works.
	s.ReplaceSource("kubernetes", map[string]map[string][]byte{"istio-system/a": tlsSecret(c1, k1, nil), "istio-system/b": tlsSecret(c1, k1, nil)})
	if c, _ := s.Get("istio-system/a"); c.Serial() != "2" {
		t.Fatal("a later source overrode an earlier one")
	}
	s.ReplaceSource("files", nil)
	if c, _ := s.Get("istio-system/a"); c.Serial() != "1" {
		t.Fatal("the remaining source's credential should take over")
	}
	if got := strings.Join(s.Names(), ","); got != "istio-system/a,istio-system/b" {
		t.Fatalf("names %s", got)
	}
}

func TestStoreName(t *testing.T) {
	t.Parallel()
	tests := []struct{ ns, resource, want string }{
		{"apps", "kubernetes://web-tls", "apps/web-tls"},
		{"apps", "web-tls", "apps/web-tls"},
		{"apps", "file-cert:/c.pem~/k.pem", "file-cert:/c.pem~/k.pem"},
		{"apps", "file-root:/ca.pem", "file-root:/ca.pem"},
		// Istio's workload identity and trust bundle: one per process, not per namespace.
		{"apps", "default", "default"},
		{"istio-system", "default", "default"},
		{"apps", "ROOTCA", "ROOTCA"},
		{"istio-system", "ROOTCA", "ROOTCA"},
		// A Secret named default stays reachable the way Istio names a credentialName.
		{"apps", "kubernetes://default", "apps/default"},
		{"apps", "kubernetes://ROOTCA", "apps/ROOTCA"},
		{"apps", "default-cacert", "apps/default-cacert"},
		{"apps", "rootca", "apps/rootca"},
	}
	for _, tt := range tests {
		if got := StoreName(tt.ns, tt.resource); got != tt.want {
			t.Errorf("StoreName(%q, %q) = %q, want %q", tt.ns, tt.resource, got, tt.want)
		}
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "root")
	other := newTestCA(t, "other")
	c, k := ca.validLeaf(t, "a.example.com", 1)
	s := NewStore(StoreOptions{})
	s.ReplaceSource("files", map[string]map[string][]byte{
		"istio-system/with-ca":      tlsSecret(c, k, ca.pem),
		"istio-system/split":        tlsSecret(c, k, nil),
		"istio-system/split-cacert": {"ca.crt": other.pem},
		"file-cert:/c.pem~/k.pem":   tlsSecret(c, k, nil),
		"file-root:/ca.pem":         {"ca.crt": ca.pem},
		"other-namespace/elsewhere": tlsSecret(c, k, nil),
		"istio-system/default":      tlsSecret(c, k, other.pem),
	})
	s.ReplaceSource("workload", map[string]map[string][]byte{
		"default": tlsSecret(c, k, nil),
		"ROOTCA":  {"ca.crt": ca.pem},
	})
	tests := []struct {
		resource string
		want     string // the Subject CN of the first root, or "cert"
	}{
		{"kubernetes://with-ca", "cert"},
		{"with-ca", "cert"},
		{"kubernetes://with-ca-cacert", "root"},
		{"kubernetes://split-cacert", "other"},
		{"file-cert:/c.pem~/k.pem", "cert"},
		{"file-root:/ca.pem", "root"},
		{"kubernetes://elsewhere", ""},
		{"kubernetes://split-missing-cacert", ""},
		{"default", "cert"},
		{"ROOTCA", "root"},
		{"kubernetes://default-cacert", "other"},
	}
	for _, tt := range tests {
		got, ok := s.Resolve("istio-system", tt.resource)
		switch {
		case tt.want == "" && ok:
			t.Errorf("%s resolved, want not found", tt.resource)
		case tt.want == "cert" && (!ok || got.Certificate == nil):
			t.Errorf("%s: no certificate", tt.resource)
		case tt.want != "" && tt.want != "cert" && (!ok || got.RootCerts[0].Subject.CommonName != tt.want):
			t.Errorf("%s: roots %v", tt.resource, ok)
		}
	}
}

// TestStoreKeepsNonTLSSecretsQuietly: a Secret with no key of either TLS layout (an OIDC client
// secret) is neither a credential nor a rejected one; its data stays readable.
func TestStoreKeepsNonTLSSecretsQuietly(t *testing.T) {
	t.Parallel()
	s := NewStore(StoreOptions{})
	s.ReplaceSource("files", map[string]map[string][]byte{"istio-system/oidc-client": {"client-secret": []byte("s3cret")}})
	if err := s.Rejected("istio-system/oidc-client"); err != nil {
		t.Errorf("a client-secret Secret was rejected as a credential: %v", err)
	}
	if _, ok := s.Get("istio-system/oidc-client"); ok {
		t.Error("a client-secret Secret became a credential")
	}
	if v, ok := s.SecretValue("istio-system", "oidc-client", "client-secret"); !ok || string(v) != "s3cret" {
		t.Errorf("SecretValue = %q, %v", v, ok)
	}
}

// TestStoreDataChanged: a change to a Secret that holds no credential moves no Version (SDS has
// nothing to push) but closes DataChanged, so its readers re-read; an identical reload does not.
func TestStoreDataChanged(t *testing.T) {
	t.Parallel()
	s := NewStore(StoreOptions{})
	secret := func(v string) map[string]map[string][]byte {
		return map[string]map[string][]byte{"istio-system/oidc-client": {"client-secret": []byte(v)}}
	}
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	s.ReplaceSource("files", secret("one"))
	v0, _ := s.Version()
	ch := s.DataChanged()
	s.ReplaceSource("files", secret("one"))
	if closed(ch) {
		t.Error("DataChanged closed by an identical reload")
	}
	s.ReplaceSource("files", secret("two"))
	if !closed(ch) {
		t.Error("DataChanged not closed when the client secret's value changed")
	}
	if v1, _ := s.Version(); v1 != v0 {
		t.Errorf("Version moved from %d to %d for a Secret that is no credential", v0, v1)
	}
	ch = s.DataChanged()
	s.ReplaceSource("files", nil)
	if !closed(ch) {
		t.Error("DataChanged not closed when the Secret was removed")
	}
}
