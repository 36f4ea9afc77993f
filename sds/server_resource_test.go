package sds

import (
	"bytes"
	"strings"
	"testing"
)

func TestSecretResource(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "root")
	c1, k1 := ca.validLeaf(t, "x.example.com", 1)
	c2, k2 := ca.validLeaf(t, "x.example.com", 2)
	store := NewStore(StoreOptions{})
	store.ReplaceSource("files", map[string]map[string][]byte{
		"ns/one":           tlsSecret(c1, k1, ca.pem),
		"ns/two":           tlsSecret(c2, k2, ca.pem),
		"ns/trust":         {"ca.crt": ca.pem, "ca.crl": ca.crl(t, 3)},
		"file-cert:/c~/k":  tlsSecret(c1, k1, nil),
		"file-root:/ca":    {"ca.crt": ca.pem},
		"ns/split":         tlsSecret(c1, k1, nil),
		"ns/split-cacert":  {"ca.crt": ca.pem},
		"ns/generic-stuff": {"cert": c2, "key": k2, "cacert": ca.pem},
	})
	tests := []struct {
		resource string
		cert     bool
		crl      bool
	}{
		{"kubernetes://one", true, false},
		{"kubernetes://one-cacert", false, false},
		{"kubernetes://trust", false, true},
		{"file-cert:/c~/k", true, false},
		{"file-root:/ca", false, false},
		{"kubernetes://split-cacert", false, false},
		{"kubernetes://generic-stuff", true, false},
		{"kubernetes://generic-stuff-cacert", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.resource, func(t *testing.T) {
			t.Parallel()
			cred, ok := store.Resolve("ns", tt.resource)
			if !ok {
				t.Fatal("does not resolve")
			}
			res, err := newSecretResource(tt.resource, cred)
			if err != nil {
				t.Fatal(err)
			}
			s := res.secret
			if err := s.ValidateAll(); err != nil {
				t.Fatalf("ValidateAll: %v", err)
			}
			if s.GetName() != tt.resource {
				t.Errorf("name %q", s.GetName())
			}
			if tc := s.GetTlsCertificate(); (tc != nil) != tt.cert || (tc != nil && !bytes.Equal(tc.GetPrivateKey().GetInlineBytes(), cred.KeyPEM)) {
				t.Errorf("tls_certificate %v, want %v", tc != nil, tt.cert)
			}
			if vc := s.GetValidationContext(); !tt.cert && (vc == nil || (vc.GetCrl() != nil) != tt.crl) {
				t.Errorf("validation_context %v, want crl %v", vc, tt.crl)
			}
			if strings.Contains(res.version, "PRIVATE") || len(res.version) != 24 {
				t.Errorf("version %q", res.version)
			}
		})
	}

	// Versions follow the certificates a resource carries: a new leaf changes the certificate
	// resource but not the CA resource beside it.
	version := func(name string) string {
		cred, _ := store.Resolve("ns", name)
		res, err := newSecretResource(name, cred)
		if err != nil {
			t.Fatal(err)
		}
		return res.version
	}
	if version("kubernetes://one") == version("kubernetes://two") {
		t.Error("different leaves, same version")
	}
	if version("kubernetes://one-cacert") != version("kubernetes://two-cacert") {
		t.Error("same CA, different versions")
	}
	if v := version("kubernetes://one"); v != version("kubernetes://one") {
		t.Error("version is not deterministic")
	}
}
