package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/types/known/structpb"
)

// fullChain is the issue-10 walkthrough (deploy/full-chain) on free ports: HTTPS at the gateway (SIMPLE), ISTIO_MUTUAL
// from the gateway to a `gatehouse sidecar` in front of the demo backend, the sidecar's mode from
// the namespace's PeerAuthentication over xDS, and an AuthorizationPolicy at the sidecar that
// allows only the gateway.
type fullChain struct {
	dir, data       string
	gw              *gatehouse
	gwCAFile        string
	meshRoots       *x509.CertPool
	inbound, caPort int
}

// peerAuthentication is the apps namespace's PeerAuthentication in mode.
func peerAuthentication(mode string) string {
	return `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: apps}
spec: {mtls: {mode: ` + mode + `}}
`
}

// startFullChain runs deploy/full-chain, the README's walkthrough, with its ports moved to free
// ones, and one more BootstrapToken, apps/intruder, for a mesh identity its policy refuses.
func startFullChain(t *testing.T) *fullChain {
	t.Helper()
	c := &fullChain{dir: t.TempDir(), data: t.TempDir(), inbound: freePort(t)}
	app := backend(t, "web")
	files, err := filepath.Glob("../../deploy/full-chain/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatal("no full-chain config", err)
	}
	ports := strings.NewReplacer("15006", fmt.Sprint(c.inbound), "9090", fmt.Sprint(app))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, c.dir, filepath.Base(f), ports.Replace(string(data)))
	}
	gwCA := newCA(t, "edge-ca")
	edge := gwCA.issue(t, leafOpts{dns: []string{"shop.example.com"}})
	c.gwCAFile = gwCA.file
	writeFile(t, c.dir, "secrets.yaml", docs(secretYAML("shop-cert", "tls", edge.cert, edge.key, ""),
		"apiVersion: v1\nkind: Secret\nmetadata: {name: web-bootstrap, namespace: apps}\nstringData: {token: web-sidecar-token-0123456789}\n",
		bootstrapToken("apps", "intruder", "intruder-token-0123456789", 1),
		// A second identity of apps/web, for the ADS client posing as its Envoy sidecar.
		"apiVersion: v1\nkind: Secret\nmetadata: {name: web-envoy-token, namespace: apps}\nstringData: {token: web-envoy-token-0123456789}\n",
		"apiVersion: gatehouse.dev/v1alpha1\nkind: BootstrapToken\nmetadata: {name: web-envoy, namespace: apps}\nspec: {serviceAccount: web, token: {name: web-envoy-token, key: token}}\n"))

	c.gw = runPorts(t, c.dir, []int{443}, "--data", c.data)
	c.caPort = c.gw.ca
	c.meshRoots, _ = readRoots(t, c.data)
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("web-sidecar-token-0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	status := freePort(t)
	ca := fmt.Sprintf("127.0.0.1:%d", c.caPort)
	start(t, "sidecar", "--config", c.dir, "--namespace", "apps", "--service-account", "web", "--labels", "app=web", "--name", "web-1",
		"--inbound", fmt.Sprintf("%d=%d", c.inbound, app), "--ca-address", ca, "--xds-address", ca,
		"--ca-root", filepath.Join(c.data, "ca", "root-cert.pem"), "--ca-token-file", token,
		"--status-port", fmt.Sprint(status), "--stats-port", fmt.Sprint(freePort(t)), "--admin-port", fmt.Sprint(freePort(t)))
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/healthz/ready", status), 200)
	return c
}

// plaintextOK reports whether the sidecar takes a plaintext request straight to it: it answers
// over HTTP (the policy, which allows only the gateway's principal, then gives 403) instead of
// closing the connection as STRICT does.
func (c *fullChain) plaintextOK() bool {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/headers", c.inbound))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusForbidden
}

// waitPlaintext polls until plaintext to the sidecar is answered (want) or refused, and returns
// how long that took; the test fails after 10 s.
func (c *fullChain) waitPlaintext(t *testing.T, want bool) time.Duration {
	t.Helper()
	begin := time.Now()
	for time.Since(begin) < 10*time.Second {
		if c.plaintextOK() == want {
			return time.Since(begin)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("plaintext to the sidecar answered: %v after 10 s, want %v", !want, want)
	return 0
}

// inboundChains is the transport protocols of the chains of the sidecar's Listener for port, as
// an ADS client posing as an Envoy sidecar of apps/web gets it over the CA's TLS port, after
// the first push that satisfies done.
func inboundChains(t *testing.T, c *fullChain, cert *tls.Certificate, done func([]string) bool) []string {
	t.Helper()
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", c.caPort), grpc.WithTransportCredentials(credentials.NewTLS(
		&tls.Config{RootCAs: c.meshRoots, ServerName: "localhost", Certificates: []tls.Certificate{*cert}})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := structpb.NewStruct(map[string]any{"NAMESPACE": "apps", "SERVICE_ACCOUNT": "web", "LABELS": map[string]any{"app": "web"}})
	node := &core.Node{Id: "sidecar~127.0.0.1~envoy-1.apps~apps.svc.cluster.local", Metadata: meta}
	req := &discovery.DiscoveryRequest{Node: node, TypeUrl: resourcev3.ListenerType}
	for {
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("ADS: %v", err)
		}
		var got []string
		for _, r := range resp.GetResources() {
			var l listenerv3.Listener
			if err := r.UnmarshalTo(&l); err != nil {
				t.Fatal(err)
			}
			if err := l.ValidateAll(); err != nil {
				t.Errorf("listener %s does not validate: %v", l.GetName(), err)
			}
			for _, fc := range l.GetFilterChains() {
				if fc.GetFilterChainMatch().GetDestinationPort().GetValue() == uint32(c.inbound) {
					got = append(got, fc.GetFilterChainMatch().GetTransportProtocol())
				}
			}
		}
		if done(got) {
			return got
		}
		req = &discovery.DiscoveryRequest{Node: node, TypeUrl: resourcev3.ListenerType, VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce()}
	}
}

// TestFullChainHTTPS: HTTPS at the gateway, ISTIO_MUTUAL to the sidecar, loopback to the app,
// which sees the gateway's SPIFFE ID in XFCC; plaintext straight to the sidecar is refused under
// STRICT, answered once the namespace goes PERMISSIVE live, refused again after it goes back; a
// mesh identity the sidecar's policy does not allow gets 403; and an ADS client posing as an
// Envoy sidecar gets the mode change pushed (issue 10).
func TestFullChainHTTPS(t *testing.T) {
	t.Parallel()
	c := startFullChain(t)
	gwPort := c.gw.ports[443]

	var body string
	var code int
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if body, code, _ = curlTLS(t, gwPort, "shop.example.com", "/headers", "--cacert", c.gwCAFile); code == 200 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code != 200 {
		t.Fatalf("client → gateway → sidecar → app: %d %s", code, body)
	}
	var echoed struct {
		Headers map[string]string `json:"headers"`
	}
	if err := json.Unmarshal([]byte(body), &echoed); err != nil {
		t.Fatalf("backend echo %q: %v", body, err)
	}
	if xfcc := echoed.Headers["X-Forwarded-Client-Cert"]; !strings.Contains(xfcc, "URI=spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account") {
		t.Errorf("the app's XFCC %q does not name the gateway's SPIFFE ID", xfcc)
	}

	// Until its xDS answers the sidecar is PERMISSIVE, Istio's default; then STRICT holds.
	c.waitPlaintext(t, false)
	envoyCert := meshCertFor(t, c, "web-envoy-token-0123456789")
	if got := inboundChains(t, c, envoyCert, func(p []string) bool { return len(p) > 0 }); strings.Contains(strings.Join(got, ","), "raw_buffer") {
		t.Errorf("STRICT listener chains %v include raw_buffer", got)
	}

	writeFile(t, c.dir, "peer-authentication.yaml", peerAuthentication("PERMISSIVE"))
	t.Logf("PERMISSIVE reached the sidecar's plaintext path in %v", c.waitPlaintext(t, true))
	inboundChains(t, c, envoyCert, func(p []string) bool { return strings.Contains(strings.Join(p, ","), "raw_buffer") })

	writeFile(t, c.dir, "peer-authentication.yaml", peerAuthentication("STRICT"))
	t.Logf("STRICT again refused plaintext after %v", c.waitPlaintext(t, false))

	intruder := meshCertFor(t, c, "intruder-token-0123456789")
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		Certificates: []tls.Certificate{*intruder}, RootCAs: c.meshRoots, InsecureSkipVerify: true,
		NextProtos: []string{"istio-http/1.1", "istio", "http/1.1"}}}}
	resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d/headers", c.inbound))
	if err != nil {
		t.Fatalf("mesh client apps/intruder: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("mesh client apps/intruder: %d, want 403 from the sidecar's policy", resp.StatusCode)
	}
}

// meshCertFor gets a workload certificate from the chain's CA with a bootstrap token.
func meshCertFor(t *testing.T, c *fullChain, token string) *tls.Certificate {
	t.Helper()
	chain, key, err := caCall{addr: fmt.Sprintf("127.0.0.1:%d", c.caPort), roots: c.meshRoots, token: token}.create(t)
	if err != nil {
		t.Fatal(err)
	}
	cert := &tls.Certificate{PrivateKey: key}
	for _, p := range chain {
		block, _ := pem.Decode([]byte(p))
		cert.Certificate = append(cert.Certificate, block.Bytes)
	}
	return cert
}
