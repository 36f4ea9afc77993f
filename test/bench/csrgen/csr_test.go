package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestRun: both files parse as their consumers read them, every CSR is a distinct, correctly
// self-signed P-256 request, and the cfssl body carries the first of them.
func TestRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ghzFile, cfsslFile := filepath.Join(dir, "ghz.json"), filepath.Join(dir, "cfssl.json")
	if err := run(5, ghzFile, cfsslFile, 3600); err != nil {
		t.Fatal(err)
	}
	var reqs []istioRequest
	readJSON(t, ghzFile, &reqs)
	if len(reqs) != 5 {
		t.Fatalf("got %d requests, want 5", len(reqs))
	}
	keys := map[string]bool{}
	for i, r := range reqs {
		if r.ValidityDuration != 3600 {
			t.Errorf("request %d: validity_duration %d, want 3600", i, r.ValidityDuration)
		}
		csr := parseCSR(t, r.CSR)
		pub, ok := csr.PublicKey.(*ecdsa.PublicKey)
		if !ok || pub.Curve != elliptic.P256() {
			t.Errorf("request %d: key %T, want ECDSA P-256", i, csr.PublicKey)
			continue
		}
		b, err := pub.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		keys[string(b)] = true
		if len(csr.URIs) != 1 || csr.URIs[0].String() != fmt.Sprintf("spiffe://cluster.local/ns/bench/sa/sa-%d", i) {
			t.Errorf("request %d: URI SANs %v", i, csr.URIs)
		}
	}
	if len(keys) != 5 {
		t.Errorf("%d distinct keys, want 5", len(keys))
	}
	var body cfsslRequest
	readJSON(t, cfsslFile, &body)
	if body.CertificateRequest != reqs[0].CSR {
		t.Error("the cfssl body is not the first CSR")
	}
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tt := range []struct {
		name      string
		n         int
		ghz, cfsl string
	}{
		{"zero", 0, filepath.Join(dir, "a.json"), ""},
		{"no output", 3, "", ""},
		{"unwritable", 1, filepath.Join(dir, "missing", "a.json"), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := run(tt.n, tt.ghz, tt.cfsl, 1); err == nil {
				t.Error("no error")
			}
		})
	}
}

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func parseCSR(t *testing.T, s string) *x509.CertificateRequest {
	t.Helper()
	b, _ := pem.Decode([]byte(s))
	if b == nil || b.Type != "CERTIFICATE REQUEST" {
		t.Fatalf("not a PEM CERTIFICATE REQUEST: %q", s)
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := csr.CheckSignature(); err != nil {
		t.Fatal(err)
	}
	return csr
}
