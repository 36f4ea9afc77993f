package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/test/peers/kubepeer"
)

// grantSecretAccess lets service account sa of namespace get, list and watch the Secrets of
// namespace, with a Role and RoleBinding applied by kubectl, as a gateway's install does.
func grantSecretAccess(t *testing.T, k *kubepeer.Peer, namespace, sa string) {
	t.Helper()
	kubeApply(t, k, fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: %[2]s-secrets, namespace: %[1]s}
rules:
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: %[2]s-secrets, namespace: %[1]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: %[2]s-secrets}
subjects:
- {kind: ServiceAccount, name: %[2]s, namespace: %[1]s}
`, namespace, sa))
}

// tlsLoad sends requests to https://host:port/headers over kept-alive and new connections until
// stopped, counting failures.
type tlsLoad struct {
	stop            atomic.Bool
	total, failures atomic.Int64
	firstErr        atomic.Value
	wg              sync.WaitGroup
}

func startTLSLoad(port int, host string, roots *x509.CertPool) *tlsLoad {
	url := fmt.Sprintf("https://%s:%d/headers", host, port)
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, fmt.Sprintf("127.0.0.1:%d", port))
	}
	clients := []*http.Client{
		{Transport: &http.Transport{DialContext: dial, TLSClientConfig: &tls.Config{RootCAs: roots}}, Timeout: 10 * time.Second},
		{Transport: &http.Transport{DialContext: dial, TLSClientConfig: &tls.Config{RootCAs: roots}, DisableKeepAlives: true}, Timeout: 10 * time.Second},
	}
	l := &tlsLoad{}
	for i := range 6 {
		l.wg.Add(1)
		go func(c *http.Client) {
			defer l.wg.Done()
			for !l.stop.Load() {
				l.total.Add(1)
				resp, err := c.Get(url)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					l.failures.Add(1)
					l.firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}(clients[i%2])
	}
	return l
}

// finish stops the load and fails the test if any request failed.
func (l *tlsLoad) finish(t *testing.T) {
	t.Helper()
	l.stop.Store(true)
	l.wg.Wait()
	if n := l.failures.Load(); n != 0 {
		t.Fatalf("%d of %d requests failed; first: %v", n, l.total.Load(), l.firstErr.Load())
	}
	if l.total.Load() == 0 {
		t.Fatal("no requests were sent")
	}
	t.Logf("%d requests over kept-alive and new connections, none failed", l.total.Load())
}

// waitSerial polls new handshakes until one serves serial, returning when it did, or fails the
// test after timeout.
func waitSerial(t *testing.T, port int, host string, roots *x509.CertPool, serial string, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s, err := servedSerial(port, host, roots)
		if err == nil && s == serial {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("serial %s not served within %v: got %q, %v", serial, timeout, s, err)
		}
		time.Sleep(2 * time.Millisecond) // polling new handshakes; the figure is what is measured
	}
}

// TestKubeSecretRotationUnderLoad: with `gatehouse run --kubeconfig` on a real API server, a
// `kubectl apply` of a new TLS Secret behind a SIMPLE server reaches new handshakes while clients
// send requests over kept-alive and new connections, and none fails (issue 11, scope 2). The time
// from kubectl returning (the API server accepted the Secret) to the first new handshake with the
// new serial is logged; the issue wants it within 1s, tests only bound it generously.
func TestKubeSecretRotationUnderLoad(t *testing.T) {
	t.Parallel()
	k := startKube(t)
	serverCA := newCA(t, "kube-rotation-ca")
	roots := x509.NewCertPool()
	roots.AddCert(serverCA.cert)
	old := serverCA.issue(t, leafOpts{dns: []string{"a.example.com"}, serial: 0xb1})
	kubeApply(t, k, docs(secretYAML("a-cert", "tls", old.cert, old.key, ""), rotationGateway(backend(t, "v1"))))
	g := runPorts(t, "", []int{443}, "--config", "", "--kubeconfig", k.Kubeconfig)
	port := g.ports[443]
	waitSerial(t, port, "a.example.com", roots, "b1", 30*time.Second)

	load := startTLSLoad(port, "a.example.com", roots)
	for i, serial := range []int64{0xb2, 0xb3, 0xb4} {
		next := serverCA.issue(t, leafOpts{dns: []string{"a.example.com"}, serial: serial})
		kubeApply(t, k, secretYAML("a-cert", "tls", next.cert, next.key, ""))
		accepted := time.Now()
		served := waitSerial(t, port, "a.example.com", roots, fmt.Sprintf("%x", serial), 10*time.Second)
		t.Logf("rotation %d: new handshakes served serial %x %v after kubectl apply returned",
			i+1, serial, served.Sub(accepted).Round(time.Millisecond))
	}
	load.finish(t)
}

// TestKubeCredentialNeedsSecretAccess: as Istio's gateways, Gatehouse serves a credentialName
// only when the gateway's service account may get the Secrets of its namespace, asked with a
// SubjectAccessReview. The gatehouse process itself reads the API server as the admin, so the
// review is the only thing enforcing it: without a RoleBinding the credential is refused (its
// handshakes fail, as with a missing Secret, and the log says why); once bound, it is served.
func TestKubeCredentialNeedsSecretAccess(t *testing.T) {
	t.Parallel()
	k := startKube(t)
	const sa = "edge-gateway"
	kubeApply(t, k, "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: "+sa+", namespace: istio-system}\n")
	serverCA := newCA(t, "kube-access-ca")
	roots := x509.NewCertPool()
	roots.AddCert(serverCA.cert)
	cert := serverCA.issue(t, leafOpts{dns: []string{"a.example.com"}, serial: 0xc1})
	kubeApply(t, k, docs(secretYAML("a-cert", "tls", cert.cert, cert.key, ""), rotationGateway(backend(t, "v1"))))
	g := runPorts(t, "", []int{443}, "--config", "", "--kubeconfig", k.Kubeconfig, "--service-account", sa)
	port := g.ports[443]

	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(g.out.String(), "credentials refused") {
		if time.Now().After(deadline) {
			t.Fatalf("no refusal logged for service account %s without access to Secrets", sa)
		}
		time.Sleep(50 * time.Millisecond) // polling the process's log
	}
	if !strings.Contains(g.out.String(), "system:serviceaccount:istio-system:"+sa) {
		t.Errorf("the refusal does not name the service account reviewed")
	}
	if s, err := servedSerial(port, "a.example.com", roots); err == nil {
		t.Fatalf("a credential the gateway may not read was served (serial %s)", s)
	}

	grantSecretAccess(t, k, "istio-system", sa)
	granted := time.Now()
	waitSerial(t, port, "a.example.com", roots, "c1", 30*time.Second)
	t.Logf("served %v after the RoleBinding (denials are asked again every few seconds)", time.Since(granted).Round(time.Millisecond))
}
