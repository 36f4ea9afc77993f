package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/test/peers/kubepeer"
)

// kubeApply applies YAML to the API server with the real kubectl.
func kubeApply(t *testing.T, k *kubepeer.Peer, yaml string) {
	t.Helper()
	if out, err := k.KubectlInput(t, yaml, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
}

// startKube runs a real API server with Istio's CRDs and the namespaces the tests use.
func startKube(t *testing.T) *kubepeer.Peer {
	t.Helper()
	if _, err := kubepeer.Installed(); err != nil {
		t.Fatal(err)
	}
	k := kubepeer.Start(t, kubepeer.Options{})
	k.ApplyIstioCRDs(t)
	kubeApply(t, k, "apiVersion: v1\nkind: Namespace\nmetadata: {name: istio-system}\n")
	// As the Helm chart's Role does: the gateway's service account (run's default) may read the
	// Secrets of its namespace, which Gatehouse checks before serving them, as Istio does.
	grantSecretAccess(t, k, "istio-system", "istio-ingressgateway-service-account")
	return k
}

// TestKubeSource: `gatehouse run --kubeconfig` serves the Istio resources and the TLS Secret a
// user applies with kubectl to a real API server, follows a rotation of that Secret to new
// handshakes, keeps serving through an API server restart, and answers an invalid
// AuthorizationPolicy with an Event while the last good config serves (issue 11).
func TestKubeSource(t *testing.T) {
	t.Parallel()
	k := startKube(t)
	ca := newCA(t, "kube-edge-ca")
	first := ca.issue(t, leafOpts{dns: []string{"shop.example.com"}, serial: 1001})
	kubeApply(t, k, docs(secretYAML("shop-cert", "tls", first.cert, first.key, ""), `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: SIMPLE, credentialName: shop-cert}
`, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  http: [{route: [{destination: {host: backend.internal}}]}]
`, staticEntry("backend", "istio-system", "backend.internal", 80, "HTTP", backend(t, "app"))))

	g := runPorts(t, "", []int{443}, "--config", "", "--kubeconfig", k.Kubeconfig)
	port := g.ports[443]
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	waitServed := func(what string, serial string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		var got, stderr string
		for time.Now().Before(deadline) {
			var code int
			if _, code, stderr = curlTLS(t, port, "shop.example.com", "/headers", "--cacert", ca.file); code == 200 {
				if got, _ = servedSerial(port, "shop.example.com", roots); got == serial {
					return
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("%s: serial %q served, want %q (%s)", what, got, serial, stderr)
	}
	waitServed("the Secret from the API server", "3e9")

	second := ca.issue(t, leafOpts{dns: []string{"shop.example.com"}, serial: 1002})
	kubeApply(t, k, secretYAML("shop-cert", "tls", second.cert, second.key, ""))
	waitServed("the rotated Secret", "3ea")

	kubeApply(t, k, `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: broken, namespace: istio-system}
spec:
  action: ALLOW
  rules: [{to: [{operation: {methods: ["GET"], ports: ["not-a-port"]}}]}]
`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, _ := k.Kubectl(t, "get", "events", "-n", "istio-system", "--field-selector", "involvedObject.name=broken", "-o", "jsonpath={.items[*].reason}")
		if strings.Contains(out, "InvalidConfig") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no InvalidConfig Event on the invalid AuthorizationPolicy (got %q)", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, code, stderr := curlTLS(t, port, "shop.example.com", "/headers", "--cacert", ca.file); code != 200 {
		t.Errorf("with an invalid policy applied, the last good config: %d %s", code, stderr)
	}

	// Requests go on while the API server restarts: the gateway serves its last config throughout.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "shop.example.com"}, DisableKeepAlives: true}}
	stop := make(chan struct{})
	var served, failed atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d/headers", port))
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
			if err != nil || resp.StatusCode != http.StatusOK {
				failed.Add(1)
			} else {
				served.Add(1)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	k.Restart(t)
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || served.Load() == 0 {
		t.Errorf("during the API server restart: %d requests served, %d failed; want none failed", served.Load(), failed.Load())
	}
	t.Logf("during the API server restart: %d requests served, none failed", served.Load())
	third := ca.issue(t, leafOpts{dns: []string{"shop.example.com"}, serial: 1003})
	kubeApply(t, k, secretYAML("shop-cert", "tls", third.cert, third.key, ""))
	waitServed(fmt.Sprintf("a rotation after the API server restarted (%s)", "3eb"), "3eb")
}
