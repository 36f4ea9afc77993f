package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// TestSDSAndGatewayCommands runs `gatehouse sds` and `gatehouse gateway --sds` in-process on
// one config directory: the gateway gets its certificate only over SDS, and a Secret rewritten
// on disk reaches its new handshakes.
func TestSDSAndGatewayCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := newCmdTestCA(t)
	port := freeTCPPort(t)
	writeConfig(t, filepath.Join(dir, "gateway.yaml"), `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: web, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["web.example.com"]
    tls: {mode: SIMPLE, credentialName: web}
`)
	writeSecret := func(serial int64) {
		cert, key := ca.leaf(t, "web.example.com", serial)
		writeConfig(t, filepath.Join(dir, "secret.yaml"), fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: web, namespace: istio-system}
type: kubernetes.io/tls
data:
  tls.crt: %s
  tls.key: %s
`, base64.StdEncoding.EncodeToString(cert), base64.StdEncoding.EncodeToString(key)))
	}
	writeSecret(1)

	socket := "unix://" + filepath.Join(t.TempDir(), "sds.sock")
	ctx, cancel := context.WithCancel(context.Background())
	sdsDone, gwDone := make(chan error, 1), make(chan error, 1)
	t.Cleanup(func() {
		cancel()
		for _, done := range []chan error{sdsDone, gwDone} {
			if err := <-done; err != nil {
				t.Errorf("command: %v", err)
			}
		}
	})
	common := processFlags{sourceFlags: sourceFlags{config: dir}, logLevel: "error", workloadFlags: defaultWorkloadFlags()}
	sf := sdsFlags{processFlags: common, listen: socket}
	go func() { sdsDone <- runSDS(ctx, sf) }()
	gf := gatewayCmdFlags{processFlags: common, gatewayFlags: gatewayFlags{portMap: "443=" + strconv.Itoa(port), bind: "127.0.0.1"}, sdsAddr: socket}
	go func() { gwDone <- runGateway(ctx, gf) }()

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	waitServing(t, addr, ca.pool, "1")
	writeSecret(2)
	waitServing(t, addr, ca.pool, "2")
}

func defaultWorkloadFlags() workloadFlags {
	return workloadFlags{namespace: "istio-system", labels: "istio=ingressgateway", meshNamespace: "istio-system"}
}

// waitServing polls TLS handshakes until the gateway presents the certificate with serial.
func waitServing(t *testing.T, addr string, roots *x509.CertPool, serial string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{ServerName: "web.example.com", RootCAs: roots})
		if err == nil {
			last = conn.ConnectionState().PeerCertificates[0].SerialNumber.Text(16)
			_ = conn.Close()
			if last == serial {
				return
			}
		} else {
			last = err.Error()
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("gateway never presented serial %s; last: %s", serial, last)
}

func writeConfig(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

type cmdTestCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newCmdTestCA(t *testing.T) *cmdTestCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &cmdTestCA{cert: cert, key: key, pool: pool}
}

func (ca *cmdTestCA) leaf(t *testing.T, dns string, serial int64) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: dns}, DNSNames: []string{dns},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func TestSDSAndGatewayCommandErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		cmd  func() *cobra.Command
		args []string
		err  string
	}{
		{"sds needs a config source", newSDSCmd, nil, "give --config DIR, or --kubernetes"},
		{"sds takes one config source", newSDSCmd, []string{"--config", dir, "--kubeconfig", "/nonexistent"}, "two sources"},
		{"sds with a kubeconfig that is not there", newSDSCmd, []string{"--kubeconfig", filepath.Join(dir, "nope")}, "kubernetes:"},
		{"sds refuses a non-loopback plaintext address", newSDSCmd, []string{"--config", dir, "--listen", "0.0.0.0:15010"}, "binds only loopback"},
		{"sds log level", newSDSCmd, []string{"--config", dir, "--log-level", "loud"}, "--log-level"},
		{"gateway needs --sds", newGatewayCmd, []string{"--config", dir}, `required flag(s) "sds" not set`},
		{"gateway port map", newGatewayCmd, []string{"--config", dir, "--sds", "127.0.0.1:15010", "--port-map", "443"}, "--port-map"},
		{"gateway labels", newGatewayCmd, []string{"--config", dir, "--sds", "127.0.0.1:15010", "--labels", "nope"}, "--labels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := tt.cmd()
			cmd.SetArgs(tt.args)
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
		})
	}
}
