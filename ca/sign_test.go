package ca

import (
	"crypto/x509"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSignIgnoresCSRNames(t *testing.T) {
	t.Parallel()
	a := mustNew(t, Options{DataDir: t.TempDir(), TrustDomain: "mesh.example", TrustDomainAliases: []string{"old.example"}})
	csr, key := newCSR(t, []string{"admin.example.com", "localhost"}, "spiffe://mesh.example/ns/kube-system/sa/admin", "https://evil.example")
	// The identity's trust domain is forced to the CA's, whatever the caller passed.
	chain, err := a.Sign(csr, Identity{TrustDomain: "old.example", Namespace: "apps", ServiceAccount: "web"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	leaf := parseChain(t, chain)[0]
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != "spiffe://mesh.example/ns/apps/sa/web" {
		t.Errorf("URIs = %v, want exactly spiffe://mesh.example/ns/apps/sa/web", leaf.URIs)
	}
	if len(leaf.DNSNames)+len(leaf.IPAddresses)+len(leaf.EmailAddresses) != 0 {
		t.Errorf("leaf kept CSR names: dns %v ip %v email %v", leaf.DNSNames, leaf.IPAddresses, leaf.EmailAddresses)
	}
	if len(leaf.Subject.Names) != 0 {
		t.Errorf("subject = %q, want empty", leaf.Subject)
	}
	if !key.PublicKey.Equal(leaf.PublicKey) {
		t.Error("leaf key is not the CSR's")
	}
	if leaf.IsCA {
		t.Error("leaf is a CA")
	}
	wantEKU := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	if len(leaf.ExtKeyUsage) != 2 || leaf.ExtKeyUsage[0] != wantEKU[0] || leaf.ExtKeyUsage[1] != wantEKU[1] {
		t.Errorf("ExtKeyUsage = %v", leaf.ExtKeyUsage)
	}
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment {
		t.Errorf("KeyUsage = %v", leaf.KeyUsage)
	}
	if leaf.SerialNumber.BitLen() < 120 {
		t.Errorf("serial has %d bits", leaf.SerialNumber.BitLen())
	}
	if len(leaf.AuthorityKeyId) == 0 {
		t.Error("no AuthorityKeyId")
	}
}

func TestSignRejectsBadCSR(t *testing.T) {
	t.Parallel()
	a := mustNew(t, Options{DataDir: t.TempDir()})
	good, _ := newCSR(t, nil)
	tampered := []byte(strings.Replace(string(good), string(good[80:90]), "AAAAAAAAAA", 1))
	id := Identity{Namespace: "apps", ServiceAccount: "web"}
	for name, csr := range map[string][]byte{
		"empty":    nil,
		"not PEM":  []byte("hello"),
		"cert":     a.RootsPEM(),
		"tampered": tampered,
	} {
		if _, err := a.Sign(csr, id, 0); !errors.Is(err, ErrBadCSR) {
			t.Errorf("%s: err = %v, want ErrBadCSR", name, err)
		}
	}
	if _, err := a.Sign(good, Identity{Namespace: "apps", ServiceAccount: "a/b"}, 0); err == nil {
		t.Error("service account with '/' signed")
	}
}

func TestSignTTL(t *testing.T) {
	t.Parallel()
	now := time.Now().Truncate(time.Second)
	root := newTestRoot(t, "root", now.Add(365*24*time.Hour))
	inter := root.child(t, "short intermediate", now.Add(10*24*time.Hour))
	dir := t.TempDir()
	writeFiles(t, dir, cacertsFiles(inter, inter.certPEM, root.certPEM))
	a := mustNew(t, Options{PluginDir: dir, DefaultTTL: 12 * time.Hour, MaxTTL: 7 * 24 * time.Hour, Now: func() time.Time { return now }})
	tests := []struct {
		name string
		ttl  time.Duration
		want time.Time
	}{
		{"zero is the default", 0, now.Add(12 * time.Hour)},
		{"negative is the default", -time.Hour, now.Add(12 * time.Hour)},
		{"requested", time.Hour, now.Add(time.Hour)},
		{"clamped to max", 30 * 24 * time.Hour, now.Add(7 * 24 * time.Hour)},
		{"huge", time.Duration(1<<63 - 1), now.Add(7 * 24 * time.Hour)},
	}
	csr, _ := newCSR(t, nil)
	for _, tt := range tests {
		chain, err := a.Sign(csr, Identity{Namespace: "a", ServiceAccount: "b"}, tt.ttl)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		leaf := parseChain(t, chain)[0]
		if !leaf.NotAfter.Equal(tt.want) {
			t.Errorf("%s: NotAfter = %s, want %s", tt.name, leaf.NotAfter, tt.want)
		}
		if !leaf.NotBefore.Equal(now.Add(-time.Minute)) {
			t.Errorf("%s: NotBefore = %s, want now-1m", tt.name, leaf.NotBefore)
		}
	}

	// A config change moves the default and the maximum for the next leaf.
	if err := a.SetTTLs(time.Hour, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	for ttl, want := range map[time.Duration]time.Time{0: now.Add(time.Hour), 5 * time.Hour: now.Add(2 * time.Hour)} {
		chain, err := a.Sign(csr, Identity{Namespace: "a", ServiceAccount: "b"}, ttl)
		if err != nil {
			t.Fatal(err)
		}
		if leaf := parseChain(t, chain)[0]; !leaf.NotAfter.Equal(want) {
			t.Errorf("after SetTTLs, ttl %s: NotAfter = %s, want %s", ttl, leaf.NotAfter, want)
		}
	}
	if err := a.SetTTLs(3*time.Hour, 2*time.Hour); err == nil {
		t.Error("SetTTLs accepted a default above the maximum")
	}

	// Nine days on, the intermediate has one day left: a week's leaf stops with it.
	later := now.Add(9 * 24 * time.Hour)
	b := mustNew(t, Options{PluginDir: dir, MaxTTL: 30 * 24 * time.Hour, Now: func() time.Time { return later }})
	chain, err := b.Sign(csr, Identity{Namespace: "a", ServiceAccount: "b"}, 7*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if leaf := parseChain(t, chain)[0]; !leaf.NotAfter.Equal(inter.cert.NotAfter) {
		t.Errorf("NotAfter = %s, want the intermediate's %s", leaf.NotAfter, inter.cert.NotAfter)
	}
}

func TestSignNeverPastRoot(t *testing.T) {
	t.Parallel()
	now := time.Now().Truncate(time.Second)
	root := newTestRoot(t, "short root", now.Add(2*time.Hour))
	inter := root.child(t, "long intermediate", now.Add(100*24*time.Hour))
	dir := t.TempDir()
	writeFiles(t, dir, cacertsFiles(inter, nil, root.certPEM))
	a := mustNew(t, Options{PluginDir: dir, Now: func() time.Time { return now }})
	csr, _ := newCSR(t, nil)
	chain, err := a.Sign(csr, Identity{Namespace: "a", ServiceAccount: "b"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if leaf := parseChain(t, chain)[0]; !leaf.NotAfter.Equal(root.cert.NotAfter) {
		t.Errorf("NotAfter = %s, want the root's %s", leaf.NotAfter, root.cert.NotAfter)
	}
}

// TestSignChainOpenSSL checks the chain order (leaf, signing cert, intermediates, root, no
// duplicates) and has the real openssl accept it.
func TestSignChainOpenSSL(t *testing.T) {
	t.Parallel()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	now := time.Now()
	root := newTestRoot(t, "root", now.Add(365*24*time.Hour))
	mid := root.child(t, "mid", now.Add(300*24*time.Hour))
	signing := mid.child(t, "signing", now.Add(200*24*time.Hour))
	tests := []struct {
		name  string
		files map[string][]byte
	}{
		// cert-chain.pem as Istio documents it: ca-cert, intermediates, root.
		{"cacerts chain with root", cacertsFiles(signing, cat(signing.certPEM, mid.certPEM, root.certPEM), root.certPEM)},
		{"cacerts chain without root", cacertsFiles(signing, mid.certPEM, root.certPEM)},
		{"kubernetes.io/tls", map[string][]byte{pluginTLSCert: cat(signing.certPEM, mid.certPEM), pluginTLSKey: signing.keyPEM, pluginTLSRoots: root.certPEM}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			a := mustNew(t, Options{PluginDir: dir})
			csr, _ := newCSR(t, nil)
			chain, err := a.Sign(csr, Identity{Namespace: "apps", ServiceAccount: "web"}, 0)
			if err != nil {
				t.Fatal(err)
			}
			certs := parseChain(t, chain)
			want := []*x509.Certificate{nil, signing.cert, mid.cert, root.cert}
			if len(certs) != len(want) {
				t.Fatalf("chain has %d certs, want %d", len(certs), len(want))
			}
			for i := 1; i < len(want); i++ {
				if !certs[i].Equal(want[i]) {
					t.Errorf("chain[%d] = %s, want %s", i, certs[i].Subject, want[i].Subject)
				}
			}
			out := t.TempDir()
			leafFile, interFile, rootFile := filepath.Join(out, "leaf.pem"), filepath.Join(out, "inter.pem"), filepath.Join(out, "root.pem")
			for name, data := range map[string]string{leafFile: chain[0], interFile: chain[1] + chain[2], rootFile: chain[3]} {
				if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(openssl, "verify", "-CAfile", rootFile, "-untrusted", interFile, leafFile)
			if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), ": OK") {
				t.Fatalf("openssl verify: %v\n%s", err, b)
			}
		})
	}
}

func TestSignChainBootstrapOpenSSL(t *testing.T) {
	t.Parallel()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	a := mustNew(t, Options{DataDir: t.TempDir()})
	csr, _ := newCSR(t, nil)
	chain, err := a.Sign(csr, Identity{Namespace: "apps", ServiceAccount: "web"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 2 || chain[1] != string(a.RootsPEM()) {
		t.Fatalf("bootstrap chain = %d certs, want leaf and root", len(chain))
	}
	dir := t.TempDir()
	leafFile, rootFile := filepath.Join(dir, "leaf.pem"), filepath.Join(dir, "root.pem")
	if err := os.WriteFile(leafFile, []byte(chain[0]), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rootFile, a.RootsPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(openssl, "verify", "-CAfile", rootFile, leafFile).CombinedOutput(); err != nil {
		t.Fatalf("openssl verify: %v\n%s", err, b)
	}
}

func BenchmarkSign(b *testing.B) {
	a, err := New(Options{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	t := &testing.T{}
	csr, _ := newCSR(t, nil)
	id := Identity{Namespace: "apps", ServiceAccount: "web"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := a.Sign(csr, id, 0); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
