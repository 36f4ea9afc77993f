package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/gatehouse-dev/gatehouse/test/peers/kubepeer"
	"github.com/gatehouse-dev/gatehouse/test/peers/oidcpeer"
)

// walkthroughMarker precedes each README walkthrough's sh block; the test runs the block that
// follows it, so the README cannot drift from what works.
var walkthroughMarker = regexp.MustCompile("(?s)<!-- walkthrough: ([a-z0-9-]+) -->\\s*```sh\\n(.*?)```")

// walkthroughs returns the README's marked sh blocks by name, in the README's order.
func walkthroughs(t *testing.T) (names []string, blocks map[string]string) {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks = map[string]string{}
	for _, m := range walkthroughMarker.FindAllStringSubmatch(string(readme), -1) {
		if _, dup := blocks[m[1]]; dup {
			t.Fatalf("README: walkthrough %q is marked twice", m[1])
		}
		names = append(names, m[1])
		blocks[m[1]] = m[2]
	}
	return names, blocks
}

// podAddress is a non-loopback IPv4 address of this host, standing in for a pod IP: the API
// server refuses loopback addresses in an EndpointSlice, as it would a pod's.
func podAddress(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	t.Skip("no non-loopback IPv4 address to stand in for a pod IP")
	return ""
}

// standInBackend starts a demo backend named name on addr, as the pod behind a Service.
func standInBackend(t *testing.T, name, addr string) int {
	t.Helper()
	port := freePort(t)
	start(t, "demo-backend", "--name", name, "--listen", net.JoinHostPort(addr, fmt.Sprint(port)))
	waitHTTP(t, fmt.Sprintf("http://%s/healthz", net.JoinHostPort(addr, fmt.Sprint(port))), 200)
	return port
}

// serviceStandIn is what Istio's samples give the walkthroughs: Service name in default, port
// svcPort (http) to the pod's 8080 (httpbin: 8000; helloworld: 5000). With no kubelet to run the
// pod, the EndpointSlice a controller would write points at a demo backend on addr instead.
func serviceStandIn(name string, svcPort int, addr string, port int) string {
	return serviceStandInNamed(name, "http", svcPort, addr, port)
}

// serviceStandInNamed is serviceStandIn with the port's name, which gives its protocol.
func serviceStandInNamed(name, portName string, svcPort int, addr string, port int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %[1]s, namespace: default, labels: {app: %[1]s}}
spec:
  selector: {app: %[1]s}
  ports: [{name: %[5]s, port: %[2]d, targetPort: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: %[1]s-standin
  namespace: default
  labels: {kubernetes.io/service-name: %[1]s}
addressType: IPv4
ports: [{name: %[5]s, port: %[4]d, protocol: TCP}]
endpoints: [{addresses: [%[3]s], conditions: {ready: true}}]
`, name, svcPort, addr, port, portName)
}

// forward relays connections on addr to the loopback port to, standing in for the pod IP of a
// server the tests run on loopback only.
func forward(t *testing.T, addr string, to int) int {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				u, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", to))
				if err != nil {
					return
				}
				defer u.Close()
				go func() { _, _ = io.Copy(u, c); _ = u.(*net.TCPConn).CloseWrite() }()
				_, _ = io.Copy(c, u)
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// browserSignIn is walkthrough 6's browser: it signs alice in at the provider through the
// gateway at site (httpbin.example.com on loopback port) and checks the identity header httpbin
// gets.
func browserSignIn(t *testing.T, dir, site string, port int, provider *oidcpeer.Peer) {
	t.Helper()
	caPEM, err := os.ReadFile(filepath.Join(dir, "example_certs1", "example.com.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("walkthrough 1's example.com.crt holds no certificate")
	}
	gateway := fmt.Sprintf("httpbin.example.com:%d", port)
	var d net.Dialer
	transport := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		// As curl --resolve: the gateway's name goes to loopback, the provider's as it is.
		DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			if a == gateway {
				a = fmt.Sprintf("127.0.0.1:%d", port)
			}
			return d.DialContext(ctx, network, a)
		},
	}
	t.Cleanup(transport.CloseIdleConnections)
	browser := oidcpeer.NewBrowser(t, transport)
	signInThrough(t, browser, site, provider, "alice")
	resp, err := browser.Do(mustGet(t, site+"/headers"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("signed in, /headers: %d\n%s", resp.StatusCode, body)
	}
	if got := decodeEcho(t, string(body)).Headers["Kubeflow-Userid"]; got != "alice@example.com" {
		t.Errorf("httpbin got Kubeflow-Userid %v, want alice@example.com\n%s", got, body)
	}
}

// webWorkload is walkthrough 7's pod: a demo backend named web behind `gatehouse sidecar` run
// with the README's flags, and the Service, Pod and EndpointSlice the cluster would have for it.
func webWorkload(t *testing.T, k *kubepeer.Peer, dir, addr string, g *gatehouse, app, inbound int) {
	t.Helper()
	status := freePort(t)
	ca := fmt.Sprintf("127.0.0.1:%d", g.ca)
	start(t, "sidecar", "--kubeconfig", k.Kubeconfig, "--namespace", "apps", "--service-account", "web", "--labels", "app=web", "--name", "web-1",
		"--inbound", fmt.Sprintf("%d=%d", inbound, app), "--ca-address", ca, "--xds-address", ca,
		"--ca-root", filepath.Join(dir, "root-cert.pem"), "--ca-token-file", filepath.Join(dir, "web-token"),
		"--status-port", fmt.Sprint(status), "--stats-port", fmt.Sprint(freePort(t)), "--admin-port", fmt.Sprint(freePort(t)))
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/healthz/ready", status), 200)
	kubeApply(t, k, fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: web, namespace: apps}
spec:
  selector: {app: web}
  ports: [{name: http, port: 8080, targetPort: %[1]d}]
---
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  namespace: apps
  labels: {app: web, security.istio.io/tlsMode: istio}
spec:
  serviceAccountName: web
  containers: [{name: web, image: example.com/web}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-standin
  namespace: apps
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
ports: [{name: http, port: %[1]d, protocol: TCP}]
endpoints: [{addresses: [%[2]s], conditions: {ready: true}, targetRef: {kind: Pod, name: web-1, namespace: apps}}]
`, inbound, addr))
}

// runWalkthrough runs one README block with bash -euo pipefail as a user would in a shell set up
// as the section's preamble says; the block's own grep lines are its assertions.
func runWalkthrough(t *testing.T, dir string, env []string, script string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("walkthrough failed: %v\n--- script\n%s--- output\n%s", err, script, out)
	}
}

// TestWalkthrough runs every "Kubernetes walkthroughs" block of the README, in order, against a
// real API server and `gatehouse run --kubeconfig` (issue 12). Each block cleans up after
// itself, as Istio's tasks do, so the next starts from the same cluster.
func TestWalkthrough(t *testing.T) {
	t.Parallel()
	names, blocks := walkthroughs(t)
	// Issue 12's list, in its order: a marker lost in an edit must not drop a walkthrough silently.
	want := []string{"ingress-single", "ingress-multi", "ingress-mutual", "passthrough-certs", "passthrough",
		"jwt", "oidc", "oidc-cleanup", "mesh-setup", "mesh"}
	if !slices.Equal(names, want) {
		t.Fatalf("README walkthroughs %v, want %v", names, want)
	}
	kubectlDir, err := kubepeer.Installed()
	if err != nil {
		t.Fatal(err)
	}
	k := startKube(t)
	applyGatehouseCRD(t, k, "gatehouse.dev_oidclogins.yaml") // the chart ships it; watched from the start
	addr := podAddress(t)
	kubeApply(t, k, docs(serviceStandIn("httpbin", 8000, addr, standInBackend(t, "httpbin", addr)),
		serviceStandIn("helloworld", 5000, addr, standInBackend(t, "helloworld", addr))))
	g := runPorts(t, "", []int{443, 80}, "--config", "", "--kubeconfig", k.Kubeconfig)

	// Walkthrough 5's issuer, as Istio's demo token names it: its keys and a token for itself.
	issuer := newJWTSigner(t, "testing@secure.istio.io", jwa.RS256)
	token := issuer.Sign(t, map[string]any{"iss": issuer.issuer, "sub": issuer.issuer, "exp": time.Now().Add(time.Hour).Unix()})

	// Walkthrough 6's provider, standing in for Dex: client gatehouse redirects to the gateway.
	if _, err := oidcpeer.Installed(); err != nil {
		t.Fatal(err)
	}
	site := fmt.Sprintf("https://httpbin.example.com:%d", g.ports[443])
	provider := oidcpeer.Start(t, oidcpeer.Options{
		Clients: []oidcpeer.Client{{ID: "gatehouse", Secret: "walkthrough-secret", RedirectURIs: []string{site + "/oauth2/callback"}}},
		Users:   []oidcpeer.User{{ID: "alice", Email: "alice@example.com"}},
	})

	// Walkthrough 7's app and its sidecar's inbound port, which its ServiceEntry names.
	webApp, webInbound := backend(t, "web"), freePort(t)

	home := t.TempDir() // kubectl's cache and curl's rc file stay out of the user's home
	env := append(os.Environ(),
		"HOME="+home,
		"PATH="+kubectlDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"KUBECONFIG="+k.Kubeconfig,
		"INGRESS_HOST=127.0.0.1",
		fmt.Sprintf("INGRESS_PORT=%d", g.ports[80]),
		fmt.Sprintf("SECURE_INGRESS_PORT=%d", g.ports[443]),
		"JWKS="+issuer.jwks,
		"TOKEN="+token,
		"ISSUER="+provider.Issuer,
		"CLIENT_SECRET=walkthrough-secret",
		fmt.Sprintf("INBOUND_PORT=%d", webInbound),
		fmt.Sprintf("APP_PORT=%d", webApp),
	)
	dir := t.TempDir() // one working directory, as one shell session in one directory
	for _, name := range names {
		if !t.Run(name, func(t *testing.T) {
			runWalkthrough(t, dir, env, blocks[name])
		}) {
			return // later walkthroughs would fail on what this one left behind
		}
		// What the README leaves to the user between blocks, the test does here.
		switch name {
		case "passthrough-certs":
			nginx := nginxTLS(t, "nginx.example.com", pair{
				certFile: filepath.Join(dir, "example_certs1", "nginx.example.com.crt"),
				keyFile:  filepath.Join(dir, "example_certs1", "nginx.example.com.key"),
			})
			kubeApply(t, k, serviceStandInNamed("my-nginx", "https", 443, addr, forward(t, addr, nginx)))
		case "mesh-setup":
			webWorkload(t, k, dir, addr, g, webApp, webInbound)
		case "oidc":
			t.Run("browser sign-in", func(t *testing.T) {
				browserSignIn(t, dir, site, g.ports[443], provider)
			})
		}
	}
}
