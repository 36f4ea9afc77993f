package ca

import (
	"context"
	"crypto/x509"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestPluginLayouts(t *testing.T) {
	t.Parallel()
	now := time.Now()
	root := newTestRoot(t, "root", now.Add(365*24*time.Hour))
	inter := root.child(t, "intermediate", now.Add(200*24*time.Hour))
	tests := []struct {
		name  string
		files map[string][]byte
	}{
		{"cacerts", cacertsFiles(inter, cat(inter.certPEM, root.certPEM), root.certPEM)},
		{"cacerts without cert-chain.pem", cacertsFiles(inter, nil, root.certPEM)},
		{"kubernetes.io/tls", map[string][]byte{pluginTLSCert: inter.certPEM, pluginTLSKey: inter.keyPEM, pluginTLSRoots: root.certPEM}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			a := mustNew(t, Options{PluginDir: dir})
			if string(a.RootsPEM()) != string(root.certPEM) {
				t.Error("bundle is not root-cert.pem")
			}
			csr, _ := newCSR(t, nil)
			chain, err := a.Sign(csr, Identity{Namespace: "apps", ServiceAccount: "web"}, 0)
			if err != nil {
				t.Fatal(err)
			}
			certs := parseChain(t, chain)
			if len(certs) != 3 || !certs[1].Equal(inter.cert) || !certs[2].Equal(root.cert) {
				t.Fatalf("chain = %d certs, want leaf, intermediate, root", len(certs))
			}
			inters := x509.NewCertPool()
			inters.AddCert(certs[1])
			if _, err := certs[0].Verify(x509.VerifyOptions{Roots: a.Roots(), Intermediates: inters, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestPluginInvalid(t *testing.T) {
	t.Parallel()
	now := time.Now()
	root := newTestRoot(t, "root", now.Add(365*24*time.Hour))
	other := newTestRoot(t, "other root", now.Add(365*24*time.Hour))
	inter := root.child(t, "intermediate", now.Add(200*24*time.Hour))
	notCA := makeTestCA(t, root, "not a ca", now.Add(24*time.Hour), false, x509.KeyUsageDigitalSignature)
	noCertSign := makeTestCA(t, root, "no certsign", now.Add(24*time.Hour), true, x509.KeyUsageDigitalSignature)
	expired := makeTestCA(t, root, "expired", now.Add(-time.Minute), true, x509.KeyUsageCertSign)
	tests := []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"empty dir", nil, "neither"},
		{"key does not match", map[string][]byte{pluginCert: inter.certPEM, pluginKey: other.keyPEM, pluginRoots: root.certPEM}, "does not match"},
		{"not a CA", cacertsFiles(notCA, nil, root.certPEM), "not a CA"},
		{"no keyCertSign", cacertsFiles(noCertSign, nil, root.certPEM), "keyCertSign"},
		{"foreign root", cacertsFiles(inter, nil, other.certPEM), "does not chain"},
		{"expired", cacertsFiles(expired, nil, root.certPEM), "does not chain"},
		{"missing root-cert.pem", map[string][]byte{pluginCert: inter.certPEM, pluginKey: inter.keyPEM}, "root-cert.pem"},
		{"garbage cert", map[string][]byte{pluginCert: []byte("junk"), pluginKey: inter.keyPEM, pluginRoots: root.certPEM}, "no PEM CERTIFICATE"},
		{"garbage key", map[string][]byte{pluginCert: inter.certPEM, pluginKey: []byte("junk"), pluginRoots: root.certPEM}, "no PEM private key"},
		{"tls without ca.crt", map[string][]byte{pluginTLSCert: inter.certPEM, pluginTLSKey: inter.keyPEM}, "ca.crt"},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		writeFiles(t, dir, tt.files)
		_, err := New(Options{PluginDir: dir})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", tt.name, err, tt.want)
		}
	}
}

func TestPluginBundleTwoRoots(t *testing.T) {
	t.Parallel()
	now := time.Now()
	oldRoot := newTestRoot(t, "old root", now.Add(30*24*time.Hour))
	newRoot := newTestRoot(t, "new root", now.Add(365*24*time.Hour))
	inter := newRoot.child(t, "intermediate", now.Add(200*24*time.Hour))
	dir := t.TempDir()
	writeFiles(t, dir, cacertsFiles(inter, nil, cat(oldRoot.certPEM, newRoot.certPEM)))
	a := mustNew(t, Options{PluginDir: dir})
	bundle, err := parseCerts(a.RootsPEM())
	if err != nil || len(bundle) != 2 {
		t.Fatalf("bundle: %d roots, %v", len(bundle), err)
	}
	// Peers still holding old-root leaves verify against the same bundle.
	oldInter := oldRoot.child(t, "old intermediate", now.Add(20*24*time.Hour))
	for _, c := range []*x509.Certificate{oldInter.cert, inter.cert} {
		if _, err := c.Verify(x509.VerifyOptions{Roots: a.Roots(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("%s does not verify against the bundle: %v", c.Subject, err)
		}
	}
	csr, _ := newCSR(t, nil)
	chain, err := a.Sign(csr, Identity{Namespace: "a", ServiceAccount: "b"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if certs := parseChain(t, chain); !certs[len(certs)-1].Equal(newRoot.cert) {
		t.Error("chain does not end at the root that signed the intermediate")
	}
}

// runAuthority runs a.Run until the test ends.
func runAuthority(t *testing.T, a *Authority) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func waitChanged(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("Changed() did not fire")
	}
}

func TestPluginHotReload(t *testing.T) {
	t.Parallel()
	now := time.Now()
	root := newTestRoot(t, "root", now.Add(365*24*time.Hour))
	first := root.child(t, "first", now.Add(200*24*time.Hour))
	second := root.child(t, "second", now.Add(200*24*time.Hour))
	dir := t.TempDir()
	writeFiles(t, dir, cacertsFiles(first, nil, root.certPEM))
	a := mustNew(t, Options{PluginDir: dir})
	changed := a.Changed()
	runAuthority(t, a)

	// Key first, cert last, as a careless copy would: the half-written state is rejected and
	// the finished one swapped in.
	writeFiles(t, dir, map[string][]byte{pluginKey: second.keyPEM})
	writeFiles(t, dir, map[string][]byte{pluginCert: second.certPEM})
	waitChanged(t, changed)

	csr, _ := newCSR(t, nil)
	chain, err := a.Sign(csr, Identity{Namespace: "a", ServiceAccount: "b"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if certs := parseChain(t, chain); !certs[1].Equal(second.cert) {
		t.Errorf("signing cert after reload = %s, want second", certs[1].Subject)
	}
}

func TestPluginBadKeepsLastGood(t *testing.T) {
	t.Parallel()
	now := time.Now()
	root := newTestRoot(t, "root", now.Add(365*24*time.Hour))
	good := root.child(t, "good", now.Add(200*24*time.Hour))
	other := newTestRoot(t, "other", now.Add(365*24*time.Hour))
	dir := t.TempDir()
	writeFiles(t, dir, cacertsFiles(good, nil, root.certPEM))
	reg := prometheus.NewRegistry()
	a := mustNew(t, Options{PluginDir: dir, Registerer: reg})
	changed := a.Changed()
	runAuthority(t, a)

	// A plug-in whose intermediate does not chain to its bundle.
	writeFiles(t, dir, map[string][]byte{pluginRoots: other.certPEM})
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(a.reloads.WithLabelValues("error")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the bad plug-in was never rejected")
		}
		time.Sleep(10 * time.Millisecond) // polling a metric, not waiting for a state to settle
	}
	select {
	case <-changed:
		t.Fatal("a bad plug-in replaced the signer")
	default:
	}
	csr, _ := newCSR(t, nil)
	chain, err := a.Sign(csr, Identity{Namespace: "a", ServiceAccount: "b"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if certs := parseChain(t, chain); !certs[1].Equal(good.cert) || string(a.RootsPEM()) != string(root.certPEM) {
		t.Error("the last good plug-in is no longer signing")
	}

	// Repairing the bundle is picked up.
	newRoot := newTestRoot(t, "new root", now.Add(365*24*time.Hour))
	writeFiles(t, dir, cacertsFiles(newRoot.child(t, "new", now.Add(100*24*time.Hour)), nil, cat(root.certPEM, newRoot.certPEM)))
	waitChanged(t, changed)
	if bundle, _ := parseCerts(a.RootsPEM()); len(bundle) != 2 {
		t.Errorf("bundle after repair has %d roots, want 2", len(bundle))
	}
}
