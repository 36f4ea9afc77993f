package ca

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBootstrapRoot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := mustNew(t, Options{DataDir: dir, TrustDomain: "mesh.example"})
	certFile, keyFile := filepath.Join(dir, "ca", "root-cert.pem"), filepath.Join(dir, "ca", "root-key.pem")
	for file, want := range map[string]os.FileMode{certFile: 0o644, keyFile: 0o600} {
		st, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s mode = %v, want %v", file, st.Mode().Perm(), want)
		}
	}
	roots, err := parseCerts(readFile(t, certFile))
	if err != nil {
		t.Fatal(err)
	}
	root := roots[0]
	if root.Subject.CommonName != "Gatehouse Root CA" || len(root.Subject.Organization) != 1 || root.Subject.Organization[0] != "mesh.example" {
		t.Errorf("subject = %s", root.Subject)
	}
	if !root.IsCA || root.KeyUsage&x509.KeyUsageCertSign == 0 || root.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("root: IsCA %v, KeyUsage %v, alg %v", root.IsCA, root.KeyUsage, root.PublicKeyAlgorithm)
	}
	if life := root.NotAfter.Sub(root.NotBefore); life < 9*365*24*3600e9 {
		t.Errorf("root lives %s, want ~10 years", life)
	}

	// A restart keeps the same root: every certificate already issued stays valid.
	b := mustNew(t, Options{DataDir: dir, TrustDomain: "mesh.example"})
	if !bytes.Equal(a.RootsPEM(), b.RootsPEM()) {
		t.Error("second New made a new root")
	}
}

func TestBootstrapRefusesHalfPair(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mustNew(t, Options{DataDir: dir})
	if err := os.Remove(filepath.Join(dir, "ca", "root-key.pem")); err != nil {
		t.Fatal(err)
	}
	_, err := New(Options{DataDir: dir})
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("New with a cert and no key: err = %v, want a missing-file error", err)
	}
}

func TestNewOptionErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		o    Options
	}{
		{"no data dir nor plug-in", Options{}},
		{"bad trust domain", Options{DataDir: t.TempDir(), TrustDomain: "Mesh/Example"}},
		{"bad alias", Options{DataDir: t.TempDir(), TrustDomainAliases: []string{""}}},
		{"default over max", Options{DataDir: t.TempDir(), DefaultTTL: 48 * 3600e9, MaxTTL: 24 * 3600e9}},
	}
	for _, tt := range tests {
		if _, err := New(tt.o); err == nil {
			t.Errorf("%s: New succeeded", tt.name)
		}
	}
}
