package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	securityapi "istio.io/api/security/v1alpha1"
)

// bootstrapToken is a BootstrapToken for namespace/serviceAccount and the Secret holding token.
func bootstrapToken(namespace, serviceAccount, token string, maxUses int) string {
	return docs(fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: %[2]s-token, namespace: %[1]s}
stringData: {token: %[3]s}
`, namespace, serviceAccount, token), fmt.Sprintf(`apiVersion: gatehouse.dev/v1alpha1
kind: BootstrapToken
metadata: {name: %[2]s, namespace: %[1]s}
spec:
  serviceAccount: %[2]s
  token: {name: %[2]s-token, key: token}
  maxUses: %[3]d
`, namespace, serviceAccount, maxUses))
}

// caCall is one CreateCertificate call to the CA at addr, trusting roots, with a bootstrap token
// or a client certificate. The CSR asks for names the CA must ignore.
type caCall struct {
	addr   string
	roots  *x509.CertPool
	token  string
	client *tls.Certificate
}

// create sends a fresh key's CSR and returns the chain and the key.
func (c caCall) create(t *testing.T) ([]string, *ecdsa.PrivateKey, error) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	asked, _ := url.Parse("spiffe://cluster.local/ns/kube-system/sa/cluster-admin")
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "admin"}, DNSNames: []string{"kubernetes.default.svc"}, URIs: []*url.URL{asked}}, key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{RootCAs: c.roots, ServerName: "localhost"}
	if c.client != nil {
		cfg.Certificates = []tls.Certificate{*c.client}
	}
	conn, err := grpc.NewClient(c.addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if c.token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.token)
	}
	resp, err := securityapi.NewIstioCertificateServiceClient(conn).CreateCertificate(ctx, &securityapi.IstioCertificateRequest{
		Csr: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), ValidityDuration: 3600})
	if err != nil {
		return nil, nil, err
	}
	return resp.GetCertChain(), key, nil
}

// leafOf parses the first certificate of a chain.
func leafOf(t *testing.T, chain []string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode([]byte(chain[0]))
	if block == nil {
		t.Fatalf("chain[0] is not PEM: %q", chain[0])
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readRoots waits for the bootstrapped root in data and returns it as a pool and a file.
func readRoots(t *testing.T, data string) (*x509.CertPool, string) {
	t.Helper()
	file := filepath.Join(data, "ca", "root-cert.pem")
	deadline := time.Now().Add(20 * time.Second)
	for {
		pemBytes, err := os.ReadFile(file)
		if err == nil {
			pool := x509.NewCertPool()
			if pool.AppendCertsFromPEM(pemBytes) {
				return pool, file
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no root at %s: %v", file, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// opensslVerify runs `openssl verify` on a chain (leaf first, root last) against the root file.
func opensslVerify(t *testing.T, chain []string, rootFile string) string {
	t.Helper()
	dir := t.TempDir()
	leaf, untrusted := filepath.Join(dir, "leaf.pem"), filepath.Join(dir, "untrusted.pem")
	if err := os.WriteFile(leaf, []byte(chain[0]), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"verify", "-CAfile", rootFile}
	if len(chain) > 2 {
		if err := os.WriteFile(untrusted, []byte(strings.Join(chain[1:len(chain)-1], "")), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-untrusted", untrusted)
	}
	out, err := exec.Command("openssl", append(args, leaf)...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("%v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestCAIssue: a workload gets a certificate from the CA of `gatehouse run` with a one-time
// bootstrap token; it names exactly the token's identity, not what the CSR asked; openssl
// verifies the chain; the token cannot be used again; a caller with no credentials learns
// nothing; and the certificate renews itself over mTLS (issue 9).
func TestCAIssue(t *testing.T) {
	t.Parallel()
	dir, data := t.TempDir(), t.TempDir()
	writeFile(t, dir, "tokens.yaml", bootstrapToken("apps", "web", "web-one-time-token-0123456789", 1))
	g := runPorts(t, dir, []int{80}, "--data", data)
	roots, rootFile := readRoots(t, data)
	addr := fmt.Sprintf("127.0.0.1:%d", g.ca)

	if _, _, err := (caCall{addr: addr, roots: roots}).create(t); status.Code(err) != codes.Unauthenticated || strings.Contains(err.Error(), "token") {
		t.Errorf("no credentials: %v, want Unauthenticated that names nothing", err)
	}
	chain, key, err := caCall{addr: addr, roots: roots, token: "web-one-time-token-0123456789"}.create(t)
	if err != nil {
		t.Fatalf("with the bootstrap token: %v", err)
	}
	leaf := leafOf(t, chain)
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != "spiffe://cluster.local/ns/apps/sa/web" || len(leaf.DNSNames) != 0 {
		t.Errorf("leaf names URIs %v DNS %v, want only spiffe://cluster.local/ns/apps/sa/web", leaf.URIs, leaf.DNSNames)
	}
	if out := opensslVerify(t, chain, rootFile); !strings.HasSuffix(out, "OK") {
		t.Errorf("openssl verify: %s", out)
	}
	if _, _, err := (caCall{addr: addr, roots: roots, token: "web-one-time-token-0123456789"}).create(t); status.Code(err) != codes.Unauthenticated {
		t.Errorf("the one-time token again: %v, want Unauthenticated", err)
	}

	current := &tls.Certificate{PrivateKey: key}
	for _, c := range chain {
		block, _ := pem.Decode([]byte(c))
		current.Certificate = append(current.Certificate, block.Bytes)
	}
	renewed, _, err := caCall{addr: addr, roots: roots, client: current}.create(t)
	if err != nil {
		t.Fatalf("renewal with the workload certificate: %v", err)
	}
	if got := leafOf(t, renewed).URIs; len(got) != 1 || got[0].String() != "spiffe://cluster.local/ns/apps/sa/web" {
		t.Errorf("renewed leaf names %v", got)
	}
}

// meshServer is a TLS test server holding the certificate chain and key the CA issued: it
// requires a client certificate from the mesh, and answers with the SNI, the ALPN and the
// client's SPIFFE ID it saw.
func meshServer(t *testing.T, port int, chain []string, key *ecdsa.PrivateKey, roots *x509.CertPool) {
	t.Helper()
	cert := tls.Certificate{PrivateKey: key}
	for _, c := range chain[:len(chain)-1] {
		block, _ := pem.Decode([]byte(c))
		cert.Certificate = append(cert.Certificate, block.Bytes)
	}
	ln, err := tls.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{
		Certificates: []tls.Certificate{cert}, ClientCAs: roots, ClientAuth: tls.RequireAndVerifyClientCert,
		NextProtos: []string{"http/1.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := ""
		if uris := r.TLS.PeerCertificates[0].URIs; len(uris) == 1 {
			client = uris[0].String()
		}
		fmt.Fprintf(w, "sni=%s alpn=%s client=%s", r.TLS.ServerName, r.TLS.NegotiatedProtocol, client)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
}

// TestCAIstioMutual: the gateway gets its own mesh identity from the CA of `gatehouse run` and
// originates ISTIO_MUTUAL to a service whose server holds a mesh certificate for its account;
// the same service answered by a server holding another account's certificate is refused by
// secure naming (issue 9).
func TestCAIstioMutual(t *testing.T) {
	t.Parallel()
	dir, data := t.TempDir(), t.TempDir()
	web, impostor := freePort(t), freePort(t)
	service := func(name string, port int) string {
		return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: %[1]s, namespace: apps}
spec:
  hosts: [%[1]s.apps.svc.cluster.local]
  location: MESH_INTERNAL
  ports: [{number: 8080, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
  - address: 127.0.0.1
    ports: {http: %[2]d}
    serviceAccount: web
    labels: {security.istio.io/tlsMode: istio}
`, name, port)
	}
	writeFile(t, dir, "mesh.yaml", docs(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
`, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
  - match: [{uri: {prefix: /impostor}}]
    route: [{destination: {host: impostor.apps.svc.cluster.local, port: {number: 8080}}}]
  - route: [{destination: {host: web.apps.svc.cluster.local, port: {number: 8080}}}]
`, service("web", web), service("impostor", impostor)))
	writeFile(t, dir, "tokens.yaml", docs(bootstrapToken("apps", "web", "web-token-0123456789abcdef", 1),
		bootstrapToken("apps", "other", "other-token-0123456789abcdef", 1)))
	g := runPorts(t, dir, []int{80}, "--data", data)
	roots, _ := readRoots(t, data)
	addr := fmt.Sprintf("127.0.0.1:%d", g.ca)
	webChain, webKey, err := caCall{addr: addr, roots: roots, token: "web-token-0123456789abcdef"}.create(t)
	if err != nil {
		t.Fatal(err)
	}
	otherChain, otherKey, err := caCall{addr: addr, roots: roots, token: "other-token-0123456789abcdef"}.create(t)
	if err != nil {
		t.Fatal(err)
	}
	meshServer(t, web, webChain, webKey, roots)
	meshServer(t, impostor, otherChain, otherKey, roots)

	want := "sni=outbound_.8080_._.web.apps.svc.cluster.local alpn=http/1.1 client=spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"
	deadline := time.Now().Add(20 * time.Second)
	var body string
	var code int
	for time.Now().Before(deadline) {
		if body, code = curl(t, g.url("/web")); code == 200 && body == want {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code != 200 || body != want {
		t.Fatalf("ISTIO_MUTUAL to web: %d %q, want 200 %q", code, body, want)
	}
	if body, code := curl(t, g.url("/impostor")); code != 503 {
		t.Errorf("a server holding another account's certificate: %d %q, want 503 (secure naming)", code, body)
	}
}

// writeCACerts writes a plug-in CA in Istio's cacerts layout: inter signs, root is trusted.
// The signing key goes first and the certificate last, as an operator copying files would
// not guarantee; the CA takes the set once it is consistent.
func writeCACerts(t *testing.T, dir string, root, inter *ca) {
	t.Helper()
	writeFile(t, dir, "ca-key.pem", inter.keyPEM(t))
	writeFile(t, dir, "root-cert.pem", root.pem)
	writeFile(t, dir, "cert-chain.pem", inter.pem+root.pem)
	writeFile(t, dir, "ca-cert.pem", inter.pem)
}

// chainRoot is the subject of the last certificate of a chain.
func chainRoot(t *testing.T, chain []string) string {
	t.Helper()
	block, _ := pem.Decode([]byte(chain[len(chain)-1]))
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.Subject.CommonName
}

// TestCAPluginSwap: a plug-in CA in Istio's cacerts layout signs, and replacing its files with
// another CA's is picked up without a restart: the next certificate chains to the new root,
// and the chain verifies with openssl (issue 9).
func TestCAPluginSwap(t *testing.T) {
	t.Parallel()
	dir, plugin := t.TempDir(), t.TempDir()
	root1, root2 := newCA(t, "plugin-root-1"), newCA(t, "plugin-root-2")
	writeCACerts(t, plugin, root1, root1.intermediate(t, "plugin-intermediate-1"))
	writeFile(t, dir, "tokens.yaml", bootstrapToken("apps", "web", "web-plugin-token-0123456789", 100))
	g := runPorts(t, dir, []int{80}, "--ca-plugin", plugin)
	roots := x509.NewCertPool()
	roots.AddCert(root1.cert)
	roots.AddCert(root2.cert)
	call := caCall{addr: fmt.Sprintf("127.0.0.1:%d", g.ca), roots: roots, token: "web-plugin-token-0123456789"}
	chain, _, err := call.create(t)
	if err != nil {
		t.Fatal(err)
	}
	if got := chainRoot(t, chain); got != "plugin-root-1" || len(chain) != 3 {
		t.Fatalf("chain of %d ends at %q, want leaf, intermediate, plugin-root-1", len(chain), got)
	}
	if out := opensslVerify(t, chain, root1.file); !strings.HasSuffix(out, "OK") {
		t.Errorf("openssl verify: %s", out)
	}

	writeCACerts(t, plugin, root2, root2.intermediate(t, "plugin-intermediate-2"))
	deadline := time.Now().Add(20 * time.Second)
	for {
		if chain, _, err = call.create(t); err == nil && chainRoot(t, chain) == "plugin-root-2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the swapped plug-in CA never signed: last chain ends at %q, error %v", chainRoot(t, chain), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out := opensslVerify(t, chain, root2.file); !strings.HasSuffix(out, "OK") {
		t.Errorf("openssl verify after the swap: %s", out)
	}
}

// startCA runs `gatehouse ca` on dir and data, its API on port, and waits until it is ready.
func startCA(t *testing.T, dir, data string, port int) *process {
	t.Helper()
	status := freePort(t)
	p := start(t, "ca", "--config", dir, "--data", data, "--ca-listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--status-port", fmt.Sprint(status), "--stats-port", fmt.Sprint(freePort(t)), "--admin-port", fmt.Sprint(freePort(t)))
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/healthz/ready", status), 200)
	return p
}

// meshCert is the certificate the gateway serves on its ISTIO_MUTUAL port to a mesh client;
// nil when the handshake fails.
func meshCert(port int, client tls.Certificate, roots *x509.CertPool) *x509.Certificate {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", fmt.Sprintf("127.0.0.1:%d", port),
		&tls.Config{Certificates: []tls.Certificate{client}, RootCAs: roots, ServerName: "edge.example.test",
			// A mesh certificate names a SPIFFE ID, not a host: check the chain only, as a sidecar does.
			InsecureSkipVerify: true, VerifyConnection: func(cs tls.ConnectionState) error {
				opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
				for _, c := range cs.PeerCertificates[1:] {
					opts.Intermediates.AddCert(c)
				}
				_, err := cs.PeerCertificates[0].Verify(opts)
				return err
			}})
	if err != nil {
		return nil
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// TestCAOutage: a gateway whose mesh identity comes from a separate `gatehouse ca` keeps serving
// its certificate through a CA outage shorter than the certificate's remaining life, though its
// rotation falls due meanwhile, and rotates once the CA is back (issue 9). Certificates live
// 30 s here, so rotation falls due 13.5 to 15 s after issuance.
func TestCAOutage(t *testing.T) {
	t.Parallel()
	caDir, caData, gwDir := t.TempDir(), t.TempDir(), t.TempDir()
	writeFile(t, caDir, "ca.yaml", docs(`apiVersion: gatehouse.dev/v1alpha1
kind: Settings
metadata: {name: settings, namespace: istio-system}
spec: {ca: {workloadCertTTL: 30s}}
`, bootstrapToken("istio-system", "istio-ingressgateway-service-account", "gateway-token-0123456789abcdef", 1),
		bootstrapToken("apps", "client", "client-token-0123456789abcdef", 1)))
	caPort := freePort(t)
	caProc := startCA(t, caDir, caData, caPort)
	roots, rootFile := readRoots(t, caData)
	chain, key, err := caCall{addr: fmt.Sprintf("127.0.0.1:%d", caPort), roots: roots, token: "client-token-0123456789abcdef"}.create(t)
	if err != nil {
		t.Fatal(err)
	}
	client := tls.Certificate{PrivateKey: key}
	for _, c := range chain {
		block, _ := pem.Decode([]byte(c))
		client.Certificate = append(client.Certificate, block.Bytes)
	}

	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("gateway-token-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	writeFile(t, gwDir, "edge.yaml", docs(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: mtls, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: ISTIO_MUTUAL}
`, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  http: [{route: [{destination: {host: backend.internal}}]}]
`, staticEntry("backend", "istio-system", "backend.internal", 80, "HTTP", backend(t, "app"))))
	g := runPorts(t, gwDir, []int{443}, "--ca-address", fmt.Sprintf("127.0.0.1:%d", caPort), "--ca-root", rootFile, "--ca-token-file", tokenFile)

	var first *x509.Certificate
	deadline := time.Now().Add(20 * time.Second)
	for first == nil && time.Now().Before(deadline) {
		if first = meshCert(g.http, client, roots); first == nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if first == nil || len(first.URIs) != 1 || first.URIs[0].String() != "spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account" {
		t.Fatalf("the gateway's mesh certificate: %v", first)
	}
	if err := caProc.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	_ = caProc.cmd.Wait()
	// The outage lasts past the rotation time (half of 30 s) and ends before expiry.
	outageEnd := first.NotAfter.Add(-12 * time.Second)
	for time.Now().Before(outageEnd) {
		if c := meshCert(g.http, client, roots); c == nil || c.SerialNumber.Cmp(first.SerialNumber) != 0 {
			t.Fatalf("during the CA outage the gateway served %v, want its certificate %s", c, first.SerialNumber)
		}
		time.Sleep(500 * time.Millisecond)
	}
	startCA(t, caDir, caData, caPort)
	deadline = first.NotAfter
	for time.Now().Before(deadline) {
		if c := meshCert(g.http, client, roots); c != nil && c.SerialNumber.Cmp(first.SerialNumber) != 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no rotation after the CA came back, before the certificate expired at %v", first.NotAfter)
}

// adsOnce opens one ADS stream to addr over TLS as node (with client, when not nil), asks for
// the named Secrets and returns the names it got, or the stream's error.
func adsOnce(t *testing.T, addr string, roots *x509.CertPool, client *tls.Certificate, node *core.Node, names ...string) ([]string, error) {
	t.Helper()
	cfg := &tls.Config{RootCAs: roots, ServerName: "localhost"}
	if client != nil {
		cfg.Certificates = []tls.Certificate{*client}
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&discovery.DiscoveryRequest{Node: node, TypeUrl: resourcev3.SecretType, ResourceNames: names}); err != nil {
		return nil, err
	}
	resp, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	var got []string
	for _, r := range resp.GetResources() {
		var s tlsv3.Secret
		if err := r.UnmarshalTo(&s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s.GetName())
	}
	return got, nil
}

// TestXDSRemote: the xDS server on the CA's TLS port serves a proxy elsewhere by the workload
// certificate it presents: the trust bundle and its namespace's Secrets, never the gateway's
// own certificate, nothing for a node claiming another namespace, and nothing at all without a
// certificate (issue 10).
func TestXDSRemote(t *testing.T) {
	t.Parallel()
	dir, data := t.TempDir(), t.TempDir()
	writeFile(t, dir, "tokens.yaml", bootstrapToken("apps", "web", "web-xds-token-0123456789", 1))
	g := runPorts(t, dir, []int{80}, "--data", data)
	roots, _ := readRoots(t, data)
	addr := fmt.Sprintf("127.0.0.1:%d", g.ca)
	chain, key, err := caCall{addr: addr, roots: roots, token: "web-xds-token-0123456789"}.create(t)
	if err != nil {
		t.Fatal(err)
	}
	cert := &tls.Certificate{PrivateKey: key}
	for _, c := range chain {
		block, _ := pem.Decode([]byte(c))
		cert.Certificate = append(cert.Certificate, block.Bytes)
	}
	node := func(ns string) *core.Node {
		meta, _ := structpb.NewStruct(map[string]any{"NAMESPACE": ns, "SERVICE_ACCOUNT": "web"})
		return &core.Node{Id: "sidecar~127.0.0.1~web-1." + ns + "~" + ns + ".svc.cluster.local", Metadata: meta}
	}
	if got, err := adsOnce(t, addr, roots, cert, node("apps"), "ROOTCA"); err != nil || len(got) != 1 || got[0] != "ROOTCA" {
		t.Errorf("ROOTCA for its own namespace: %v, %v", got, err)
	}
	if _, err := adsOnce(t, addr, roots, cert, node("apps"), "default"); status.Code(err) != codes.PermissionDenied {
		t.Errorf("the gateway's own certificate: %v, want PermissionDenied", err)
	}
	if _, err := adsOnce(t, addr, roots, cert, node("istio-system"), "ROOTCA"); status.Code(err) != codes.PermissionDenied {
		t.Errorf("a node claiming another namespace: %v, want PermissionDenied", err)
	}
	if _, err := adsOnce(t, addr, roots, nil, node("apps"), "ROOTCA"); status.Code(err) != codes.Unauthenticated {
		t.Errorf("no certificate: %v, want Unauthenticated", err)
	}
}
