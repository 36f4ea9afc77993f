package e2e

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gatehouse-dev/gatehouse/test/peers/kubepeer"
)

// kubectlOut runs kubectl and fails the test on an error.
func kubectlOut(t *testing.T, k *kubepeer.Peer, args ...string) string {
	t.Helper()
	out, err := k.Kubectl(t, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

// caSecretRoot is the root certificate (PEM) of Secret istio-ca-secret in istio-system.
func caSecretRoot(t *testing.T, k *kubepeer.Peer) string {
	t.Helper()
	b64 := kubectlOut(t, k, "get", "secret", "istio-ca-secret", "-n", "istio-system", "-o", `jsonpath={.data.ca-cert\.pem}`)
	pemBytes, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(pemBytes) == 0 {
		t.Fatalf("Secret istio-ca-secret: data[ca-cert.pem] %q: %v", b64, err)
	}
	return string(pemBytes)
}

// waitRootConfigMap waits until ConfigMap istio-ca-root-cert in ns holds want.
func waitRootConfigMap(t *testing.T, k *kubepeer.Peer, ns, want, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		got, _ = k.Kubectl(t, "get", "configmap", "istio-ca-root-cert", "-n", ns, "-o", `jsonpath={.data.root-cert\.pem}`)
		if strings.TrimSpace(got) == strings.TrimSpace(want) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: ConfigMap %s/istio-ca-root-cert holds %q, want the CA's root", what, ns, got)
}

// issueWithToken asks the CA on port for a certificate with a service-account token, retrying
// while the CA is not serving yet; it returns the SPIFFE ID issued or the last error.
func issueWithToken(t *testing.T, port int, roots *x509.CertPool, token string) (string, error) {
	t.Helper()
	call := caCall{addr: fmt.Sprintf("127.0.0.1:%d", port), roots: roots, token: token}
	deadline := time.Now().Add(20 * time.Second)
	for {
		chain, _, err := call.create(t)
		if err == nil {
			leaf := leafOf(t, chain)
			if _, verr := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); verr != nil {
				t.Fatalf("issued certificate does not chain to the Secret's root: %v", verr)
			}
			if len(leaf.URIs) != 1 {
				t.Fatalf("issued certificate has URIs %v", leaf.URIs)
			}
			return leaf.URIs[0].String(), nil
		}
		if status.Code(err) != codes.Unavailable || time.Now().After(deadline) {
			return "", err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestKubeCA: with --kubeconfig the CA keeps its root in Secret istio-ca-secret, issues
// certificates for service-account tokens of audience istio-ca (TokenReview) and refuses other
// audiences, publishes the root as ConfigMap istio-ca-root-cert in every namespace (repairing
// edits), and after a restart on a new data dir still signs under the Secret's root (issue 11).
func TestKubeCA(t *testing.T) {
	t.Parallel()
	k := startKube(t)
	kubeApply(t, k, "apiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n")
	kubectlOut(t, k, "create", "serviceaccount", "web", "-n", "apps")

	g := runPorts(t, "", []int{443}, "--config", "", "--kubeconfig", k.Kubeconfig)
	root := caSecretRoot(t, k)
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(root)) {
		t.Fatalf("Secret istio-ca-secret: data[ca-cert.pem] is not a PEM certificate")
	}

	token := kubectlOut(t, k, "create", "token", "web", "-n", "apps", "--audience", "istio-ca")
	id, err := issueWithToken(t, g.ca, roots, token)
	if err != nil {
		t.Fatalf("CreateCertificate with an istio-ca token: %v", err)
	}
	if want := "spiffe://cluster.local/ns/apps/sa/web"; id != want {
		t.Errorf("issued %s, want %s", id, want)
	}
	other := kubectlOut(t, k, "create", "token", "web", "-n", "apps", "--audience", "not-istio-ca")
	if _, err := issueWithToken(t, g.ca, roots, other); status.Code(err) != codes.Unauthenticated {
		t.Errorf("CreateCertificate with a token for another audience: %v, want Unauthenticated", err)
	}

	kubectlOut(t, k, "create", "namespace", "fresh")
	waitRootConfigMap(t, k, "fresh", root, "a new namespace")
	waitRootConfigMap(t, k, "apps", root, "an existing namespace")
	kubectlOut(t, k, "patch", "configmap", "istio-ca-root-cert", "-n", "fresh", "--type", "merge", "-p", `{"data":{"root-cert.pem":"edited"}}`)
	waitRootConfigMap(t, k, "fresh", root, "an edited ConfigMap")

	if err := g.stop(); err != nil {
		t.Fatalf("stopping gatehouse: %v", err)
	}
	// runPorts gives the new process a new --data dir: the root can only come from the Secret.
	g = runPorts(t, "", []int{443}, "--config", "", "--kubeconfig", k.Kubeconfig)
	id, err = issueWithToken(t, g.ca, roots, token)
	if err != nil {
		t.Fatalf("after a restart on a new data dir, CreateCertificate: %v", err)
	}
	if want := "spiffe://cluster.local/ns/apps/sa/web"; id != want {
		t.Errorf("after a restart, issued %s, want %s", id, want)
	}
	if got := caSecretRoot(t, k); got != root {
		t.Errorf("after a restart, Secret istio-ca-secret holds another root")
	}
}
