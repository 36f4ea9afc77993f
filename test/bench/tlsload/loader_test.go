package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoaderCountsOnlyFullTLS13Handshakes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		maxVersion uint16
		wantErr    string // "" when every handshake must succeed
	}{
		{"TLS 1.3 server", tls.VersionTLS13, ""},
		{"TLS 1.2 only server", tls.VersionTLS12, "protocol version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewUnstartedServer(http.NotFoundHandler())
			srv.TLS = &tls.Config{MaxVersion: tt.maxVersion}
			srv.StartTLS()
			t.Cleanup(srv.Close)
			roots := x509.NewCertPool()
			roots.AddCert(srv.Certificate())
			cfg := &tls.Config{ServerName: "example.com", RootCAs: roots, MinVersion: tls.VersionTLS13,
				MaxVersion: tls.VersionTLS13, CurvePreferences: []tls.CurveID{tls.X25519}}
			l := loader{addr: srv.Listener.Addr().String(), cfg: cfg, workers: 2, timeout: 5 * time.Second}

			res := l.run(context.Background(), 200*time.Millisecond)
			if tt.wantErr == "" {
				if res.errors != 0 || len(res.latencies) == 0 {
					t.Fatalf("%d handshakes, %d failed (first: %v)", len(res.latencies), res.errors, res.firstErr)
				}
				return
			}
			if len(res.latencies) != 0 || res.errors == 0 || !strings.Contains(res.firstErr.Error(), tt.wantErr) {
				t.Fatalf("%d handshakes counted, %d failed (first: %v), want only failures with %q",
					len(res.latencies), res.errors, res.firstErr, tt.wantErr)
			}
		})
	}
}

// meshPKI is a root, and a leaf PEM pair under it for each SPIFFE ID asked, in dir.
type meshPKI struct {
	dir  string
	root *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newMeshPKI(t *testing.T) *meshPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mesh root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(der)
	p := &meshPKI{dir: t.TempDir(), root: root, key: key, pool: x509.NewCertPool()}
	p.pool.AddCert(root)
	writePEM(t, filepath.Join(p.dir, "root.pem"), "CERTIFICATE", der)
	return p
}

// leaf writes name.pem and name.key, a workload certificate for id, and returns it loaded.
func (p *meshPKI) leaf(t *testing.T, name, id string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(id)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), URIs: []*url.URL{u},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.root, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(p.dir, name+".pem"), "CERTIFICATE", der)
	writePEM(t, filepath.Join(p.dir, name+".key"), "PRIVATE KEY", kder)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func writePEM(t *testing.T, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestLoaderMeshMTLS: against a server that requires a mesh client certificate, a handshake
// counts only with the server's SPIFFE ID as expected, and with -get only when the request on
// the connection is answered 200 (a TLS 1.3 client finishes before the server checks its
// certificate, so a refused client would otherwise count).
func TestLoaderMeshMTLS(t *testing.T) {
	t.Parallel()
	const web = "spiffe://cluster.local/ns/apps/sa/web"
	pki := newMeshPKI(t)
	serverCert := pki.leaf(t, "server", web)
	pki.leaf(t, "client", "spiffe://cluster.local/ns/bench/sa/load")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ok" {
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientCAs: pki.pool,
		ClientAuth: tls.RequireAndVerifyClientCert, NextProtos: []string{"http/1.1"}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	tests := []struct {
		name       string
		spiffe     string
		clientCert bool
		get        string
		wantErr    string // "" when every handshake must succeed
	}{
		{"mesh client, request answered", web, true, "/ok", ""},
		{"mesh client, handshakes only", web, true, "", ""},
		{"server holds another identity", "spiffe://cluster.local/ns/apps/sa/other", true, "", "names"},
		{"no client certificate, request refused", web, false, "/ok", "reading the answer"},
		{"request answered 403", web, true, "/denied", "want 200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := options{caFile: filepath.Join(pki.dir, "root.pem"), spiffe: tt.spiffe, alpn: "istio-http/1.1,istio,http/1.1"}
			if tt.clientCert {
				o.certFile, o.keyFile = filepath.Join(pki.dir, "client.pem"), filepath.Join(pki.dir, "client.key")
			}
			cfg, err := clientConfig(o)
			if err != nil {
				t.Fatal(err)
			}
			l := loader{addr: srv.Listener.Addr().String(), cfg: cfg, workers: 2, timeout: 5 * time.Second}
			if tt.get != "" {
				l.request = []byte("GET " + tt.get + " HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n")
			}
			res := l.run(context.Background(), 200*time.Millisecond)
			if tt.wantErr == "" {
				if res.errors != 0 || len(res.latencies) == 0 {
					t.Fatalf("%d handshakes, %d failed (first: %v)", len(res.latencies), res.errors, res.firstErr)
				}
				return
			}
			if len(res.latencies) != 0 || res.errors == 0 || !strings.Contains(res.firstErr.Error(), tt.wantErr) {
				t.Fatalf("%d handshakes counted, %d failed (first: %v), want only failures with %q",
					len(res.latencies), res.errors, res.firstErr, tt.wantErr)
			}
		})
	}
}
