package kubepeer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

const gatewayYAML = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: web
  namespace: edge
spec:
  selector:
    istio: ingressgateway
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["web.example.com"]
    tls: {mode: SIMPLE, credentialName: web-cert}
`

// TestAPIServer walks what the Kubernetes source's tests will do against the peer: Istio's CRDs
// and a Gateway, a TLS Secret, a service-account token for istio-ca checked by TokenReview, and
// everything still there after the API server restarts.
func TestAPIServer(t *testing.T) {
	t.Parallel()
	SkipIfMissing(t)
	p := Start(t, Options{})
	p.ApplyIstioCRDs(t)

	kubectl(t, p, "", "create", "namespace", "edge")
	kubectl(t, p, gatewayYAML, "apply", "-f", "-")
	if got := kubectl(t, p, "", "get", "gateways.networking.istio.io", "web", "-n", "edge",
		"-o", "jsonpath={.spec.servers[0].tls.credentialName}"); got != "web-cert" {
		t.Fatalf("Gateway edge/web credentialName = %q, want web-cert", got)
	}
	// Every served version of the Istio kinds is there, as the source watches them all.
	for _, v := range []string{"v1alpha3", "v1beta1", "v1"} {
		kubectl(t, p, "", "get", "gateways."+v+".networking.istio.io", "web", "-n", "edge")
	}

	certFile, keyFile := writeTLSPair(t, "web.example.com")
	kubectl(t, p, "", "create", "secret", "tls", "web-cert", "-n", "edge", "--cert", certFile, "--key", keyFile)

	kubectl(t, p, "", "create", "serviceaccount", "workload", "-n", "edge")
	token := kubectl(t, p, "", "create", "token", "workload", "-n", "edge", "--audience", "istio-ca")
	checkTokenReview(t, p, token, "istio-ca", true)
	checkTokenReview(t, p, token, "not-istio-ca", false)
	// A review that names no audience checks the API server's own, which istio-ca is not: a CA
	// that forgot spec.audiences would refuse every workload here rather than pass the test.
	checkTokenReview(t, p, token, "", false)
	if _, err := p.Kubectl(t, "--token="+token, "get", "namespaces"); err == nil || !strings.Contains(err.Error(), "Unauthorized") {
		t.Errorf("kubectl with the istio-ca token: got %v, want Unauthorized", err)
	}

	p.Restart(t)

	if got := kubectl(t, p, "", "get", "gateway.networking.istio.io", "web", "-n", "edge",
		"-o", "jsonpath={.spec.servers[0].hosts[0]}"); got != "web.example.com" {
		t.Errorf("after restart: Gateway edge/web hosts[0] = %q, want web.example.com", got)
	}
	// Tokens signed before the restart still verify: the signing key is the same.
	checkTokenReview(t, p, token, "istio-ca", true)

	// client-go reads the Secret written before the restart through RESTConfig.
	cfg := p.RESTConfig()
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, cfg.Host+"/api/v1/namespaces/edge/secrets/web-cert", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var secret struct {
		Type string            `json:"type"`
		Data map[string][]byte `json:"data"`
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET secret edge/web-cert: %s: %s", resp.Status, body)
	}
	if err := json.NewDecoder(resp.Body).Decode(&secret); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	if secret.Type != "kubernetes.io/tls" || string(secret.Data["tls.crt"]) != string(want) {
		t.Errorf("after restart: secret edge/web-cert is type %q with tls.crt %q, want kubernetes.io/tls with the certificate created", secret.Type, secret.Data["tls.crt"])
	}
}

func kubectl(t *testing.T, p *Peer, stdin string, args ...string) string {
	t.Helper()
	out, err := p.KubectlInput(t, stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// checkTokenReview asks the API server whether token is valid for audience ("" names none), as
// the CA will.
func checkTokenReview(t *testing.T, p *Peer, token, audience string, wantAuthenticated bool) {
	t.Helper()
	spec := map[string]any{"token": token}
	if audience != "" {
		spec["audiences"] = []string{audience}
	}
	review, err := json.Marshal(map[string]any{
		"apiVersion": "authentication.k8s.io/v1",
		"kind":       "TokenReview",
		"spec":       spec,
	})
	if err != nil {
		t.Fatal(err)
	}
	out := kubectl(t, p, string(review), "create", "-f", "-", "-o", "json")
	var got struct {
		Status struct {
			Authenticated bool `json:"authenticated"`
			User          struct {
				Username string `json:"username"`
			} `json:"user"`
			Audiences []string `json:"audiences"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("TokenReview: %v in %s", err, out)
	}
	if got.Status.Authenticated != wantAuthenticated {
		t.Fatalf("TokenReview for audience %q: authenticated = %v, want %v", audience, got.Status.Authenticated, wantAuthenticated)
	}
	if wantAuthenticated && got.Status.User.Username != "system:serviceaccount:edge:workload" {
		t.Errorf("TokenReview: username = %q, want system:serviceaccount:edge:workload", got.Status.User.Username)
	}
}

// writeTLSPair writes a self-signed certificate for name and its key, for `kubectl create secret
// tls`, which checks that they match.
func writeTLSPair(t *testing.T, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, privatePEM(key), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
