//go:build bench

package kubebench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gatehouse-dev/gatehouse/test/peers/kubepeer"
	"github.com/gatehouse-dev/gatehouse/test/peers/loopback"
)

var (
	gatehouseBin = flag.String("gatehouse", "", "the gatehouse binary to measure")
	rotations    = flag.Int("rotations", 100, "Secret rotations to time")
	policies     = flag.Int("policies", 1000, "AuthorizationPolicies applied in one kubectl apply")
	out          = flag.String("out", "", "file the figures are written to, as shell assignments for kube.sh")
)

const (
	tlsHost  = "rot.bench.local"
	httpHost = "authz.bench.local"
)

// TestKubeBench runs both measurements on one API server and one `gatehouse run --kubeconfig`.
func TestKubeBench(t *testing.T) {
	if *gatehouseBin == "" || *out == "" {
		t.Fatal("give -gatehouse BIN and -out FILE (kube.sh does)")
	}
	k := kubepeer.Start(t, kubepeer.Options{})
	k.ApplyIstioCRDs(t)
	apply(t, k, `apiVersion: v1
kind: Namespace
metadata: {name: istio-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: gateway-secrets, namespace: istio-system}
rules: [{apiGroups: [""], resources: [secrets], verbs: [get, list, watch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: gateway-secrets, namespace: istio-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: gateway-secrets}
subjects: [{kind: ServiceAccount, name: istio-ingressgateway-service-account, namespace: istio-system}]
`)
	ca := newCA(t)
	first := ca.leaf(t, 1)
	backendPort := loopback.FreePort(t)
	startProcess(t, "demo-backend", "--name", "bench", "--listen", fmt.Sprintf("127.0.0.1:%d", backendPort))
	waitGet(t, fmt.Sprintf("http://127.0.0.1:%d/healthz", backendPort), "", 200)
	apply(t, k, secretYAML(first)+"---\n"+edgeYAML(backendPort))

	tlsPort, httpPort, status, admin := loopback.FreePort(t), loopback.FreePort(t), loopback.FreePort(t), loopback.FreePort(t)
	startProcess(t, "run", "--config", "", "--kubeconfig", k.Kubeconfig, "--data", t.TempDir(), "--bind", "127.0.0.1",
		"--port-map", fmt.Sprintf("443=%d,80=%d", tlsPort, httpPort),
		"--status-port", fmt.Sprint(status), "--stats-port", fmt.Sprint(loopback.FreePort(t)), "--admin-port", fmt.Sprint(admin),
		"--xds-listen", fmt.Sprintf("127.0.0.1:%d", loopback.FreePort(t)),
		"--authz-listen", fmt.Sprintf("127.0.0.1:%d", loopback.FreePort(t)), "--authz-http-listen", fmt.Sprintf("127.0.0.1:%d", loopback.FreePort(t)),
		"--ca-listen", fmt.Sprintf("127.0.0.1:%d", loopback.FreePort(t)))
	waitGet(t, fmt.Sprintf("http://127.0.0.1:%d/healthz/ready", status), "", 200)
	waitSerial(t, tlsPort, ca.pool, first.serial, time.Now().Add(60*time.Second))

	cfg, err := clientcmd.BuildConfigFromFlags("", k.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rot := measureRotations(t, client, ca, tlsPort)
	pol := measurePolicies(t, k, httpPort, admin)

	figures := fmt.Sprintf("rot_n=%d\nrot_p50=%.1f\nrot_p99=%.1f\nrot_max=%.1f\n"+
		"pol_n=%d\npol_apply=%.2f\npol_after_apply=%.2f\npol_total=%.2f\npol_seen=%d\n",
		len(rot), ms(percentile(rot, 50)), ms(percentile(rot, 99)), ms(slices.Max(rot)),
		*policies, pol.apply.Seconds(), pol.afterApply.Seconds(), pol.total.Seconds(), pol.seen)
	t.Log("\n" + figures)
	if err := os.WriteFile(*out, []byte(figures), 0o644); err != nil {
		t.Fatal(err)
	}
}

// measureRotations updates the Secret *rotations times with the typed client, whose Update
// returns once the API server has stored it, and times each until a new handshake serves the
// new serial.
func measureRotations(t *testing.T, client kubernetes.Interface, ca *testCA, port int) []time.Duration {
	var got []time.Duration
	for i := range *rotations {
		leaf := ca.leaf(t, int64(i+2))
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "rot-cert", Namespace: "istio-system"},
			Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": []byte(leaf.cert), "tls.key": []byte(leaf.key)}}
		if _, err := client.CoreV1().Secrets("istio-system").Update(t.Context(), sec, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("rotation %d: %v", i+1, err)
		}
		accepted := time.Now()
		served := waitSerial(t, port, ca.pool, leaf.serial, accepted.Add(30*time.Second))
		got = append(got, served.Sub(accepted))
	}
	return got
}

type policyFigures struct {
	apply, afterApply, total time.Duration
	seen                     int
}

// measurePolicies applies *policies DENY AuthorizationPolicies in one `kubectl apply -f` of a
// multi-document file and times until the last one is enforced: a request to the path only it
// denies is answered 403 instead of 200. The poller runs from the start of the apply, since the
// gateway may enforce the last policy before kubectl has returned.
func measurePolicies(t *testing.T, k *kubepeer.Peer, httpPort, admin int) policyFigures {
	n := *policies
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-%04d, namespace: istio-system}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: ["/deny/%04d"]}}]}]
---
`, i, i)
	}
	file := filepath.Join(t.TempDir(), "policies.yaml")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	last := fmt.Sprintf("http://127.0.0.1:%d/deny/%04d", httpPort, n)
	// The demo backend answers 404 to the path: anything but the gateway's 403 means not denied.
	waitGet(t, last, httpHost, 404)

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	enforced := make(chan time.Time, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if code, _ := get(last, httpHost); code == 403 {
				enforced <- time.Now()
				return
			}
			time.Sleep(5 * time.Millisecond) // polling the gateway; each poll is one request
		}
	}()
	start := time.Now()
	if _, err := k.Kubectl(t, "apply", "-f", file); err != nil {
		cancel()
		wg.Wait()
		t.Fatal(err)
	}
	applied := time.Now()
	var at time.Time
	select {
	case at = <-enforced:
	case <-ctx.Done():
		wg.Wait()
		t.Fatalf("the last of %d AuthorizationPolicies was not enforced in time", n)
	}
	wg.Wait()
	return policyFigures{apply: applied.Sub(start), afterApply: max(0, at.Sub(applied)), total: at.Sub(start),
		seen: countPolicies(t, admin)}
}

// countPolicies is how many AuthorizationPolicies /debug/config shows in force.
func countPolicies(t *testing.T, admin int) int {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/config", admin))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cfg struct {
		Resources []struct {
			Kind string `json:"kind"`
		} `json:"resources"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range cfg.Resources {
		if r.Kind == "AuthorizationPolicy" {
			n++
		}
	}
	return n
}

func edgeYAML(backendPort int) string {
	return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bench, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [%s]
    tls: {mode: SIMPLE, credentialName: rot-cert}
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [%s]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bench, namespace: istio-system}
spec:
  hosts: [%s, %s]
  gateways: [bench]
  http: [{route: [{destination: {host: backend.bench.internal}}]}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: backend, namespace: istio-system}
spec:
  hosts: [backend.bench.internal]
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: %d}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
`, tlsHost, httpHost, tlsHost, httpHost, backendPort)
}

func secretYAML(l leaf) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: rot-cert, namespace: istio-system}\ntype: kubernetes.io/tls\nstringData:\n  tls.crt: %q\n  tls.key: %q\n", l.cert, l.key)
}

func apply(t *testing.T, k *kubepeer.Peer, yaml string) {
	t.Helper()
	if out, err := k.KubectlInput(t, yaml, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
}

// startProcess runs the gatehouse binary until the test ends; its output is shown if it fails.
func startProcess(t *testing.T, args ...string) {
	t.Helper()
	logFile := filepath.Join(t.TempDir(), args[0]+".log")
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(*gatehouseBin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		f.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logFile)
			t.Logf("gatehouse %s output:\n%s", args[0], b)
		}
	})
}

func get(url, host string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	if host != "" {
		req.Host = host
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func waitGet(t *testing.T, url, host string, want int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, err := get(url, host)
		if code == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s (Host %q) answered %d, %v; want %d", url, host, code, err, want)
		}
		time.Sleep(50 * time.Millisecond) // polling a process we cannot subscribe to
	}
}

// waitSerial does new handshakes until one presents serial and returns when it did.
func waitSerial(t *testing.T, port int, roots *x509.CertPool, serial *big.Int, deadline time.Time) time.Time {
	t.Helper()
	for {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", fmt.Sprintf("127.0.0.1:%d", port),
			&tls.Config{ServerName: tlsHost, RootCAs: roots})
		if err == nil {
			got := conn.ConnectionState().PeerCertificates[0].SerialNumber
			conn.Close()
			if got.Cmp(serial) == 0 {
				return time.Now()
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serial %s not served in time (last error %v)", serial, err)
		}
		time.Sleep(time.Millisecond) // the measurement's resolution
	}
}

func percentile(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

type leaf struct {
	cert, key string
	serial    *big.Int
}

func newCA(t *testing.T) *testCA {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kube bench CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

func (c *testCA) leaf(t *testing.T, serial int64) leaf {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sn := big.NewInt(1000 + serial)
	tmpl := &x509.Certificate{SerialNumber: sn, Subject: pkix.Name{CommonName: tlsHost}, DNSNames: []string{tlsHost},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, key.Public(), c.key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return leaf{cert: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		key: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})), serial: sn}
}
