package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// indent prefixes every line of s with n spaces, for PEM inside YAML block scalars.
func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+pad)
}

// secretYAML writes a Secret in one of Istio's two layouts: "tls" (tls.crt/tls.key/ca.crt) or
// "generic" (cert/key/cacert). Empty parts are left out.
func secretYAML(name, layout, cert, key, caPEM string) string {
	keys := map[string][3]string{"tls": {"tls.crt", "tls.key", "ca.crt"}, "generic": {"cert", "key", "cacert"}}[layout]
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Secret\nmetadata: {name: %s, namespace: istio-system}\nstringData:\n", name)
	for i, v := range []string{cert, key, caPEM} {
		if v != "" {
			fmt.Fprintf(&b, "  %s: |\n%s\n", keys[i], indent(v, 4))
		}
	}
	return b.String()
}

// opensslClient runs `openssl s_client` as a user checking a server would, and returns its output.
func opensslClient(t *testing.T, port int, sni string, extra ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args := append([]string{"s_client", "-connect", fmt.Sprintf("127.0.0.1:%d", port), "-servername", sni, "-showcerts"}, extra...)
	cmd := exec.CommandContext(ctx, "openssl", args...)
	cmd.Stdin = strings.NewReader("")
	out, _ := cmd.CombinedOutput() // a refused handshake exits non-zero; the output tells why
	return string(out)
}

// curlTLS runs curl against host on the gateway's TLS port, resolving host to loopback.
func curlTLS(t *testing.T, port int, host, path string, extra ...string) (body string, code int, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args := append([]string{"-sS", "-w", "\n%{http_code}", "--resolve", fmt.Sprintf("%s:%d:127.0.0.1", host, port),
		fmt.Sprintf("https://%s:%d%s", host, port, path)}, extra...)
	cmd := exec.CommandContext(ctx, "curl", args...)
	var errb strings.Builder
	cmd.Stderr = &errb
	out, _ := cmd.Output()
	s := string(out)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		fmt.Sscanf(s[i+1:], "%d", &code)
		s = s[:i]
	}
	return s, code, errb.String()
}

// nginxTLS starts a real nginx that terminates its own TLS for host and answers a fixed body.
func nginxTLS(t *testing.T, host string, p pair) int {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	conf := fmt.Sprintf(`daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log stderr warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %[1]s/body; proxy_temp_path %[1]s/proxy; fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;
  server {
    listen 127.0.0.1:%[2]d ssl;
    server_name %[3]s;
    ssl_certificate %[4]s;
    ssl_certificate_key %[5]s;
    location / { return 200 "hello from nginx\n"; }
  }
}
`, dir, port, host, p.certFile, p.keyFile)
	startNginx(t, "nginx", dir, conf, port, host)
	return port
}

// startNginx runs the real nginx on conf (dir is its prefix) and waits until it completes TLS
// handshakes on port for serverName. nginx forks workers: it runs in its own process group so
// cleanup stops them all, and never waits forever on output pipes a straggler might hold.
func startNginx(t *testing.T, name, dir, conf string, port int, serverName string) {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatal("nginx is not installed: run `make test`, which installs the test peers")
	}
	cf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", cf, "-p", dir, "-e", "stderr")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", fmt.Sprintf("127.0.0.1:%d", port),
			&tls.Config{ServerName: serverName, InsecureSkipVerify: true}) // only asks "is it up?"
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not come up: %v\n%s", name, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const edgeGateway = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https-a, protocol: HTTPS}
    hosts: [a.example.com]
    tls: {mode: SIMPLE, credentialName: a-cert}
  - port: {number: 443, name: https-b, protocol: HTTPS}
    hosts: [b.example.com]
    tls: {mode: SIMPLE, credentialName: b-cert}
  - port: {number: 443, name: https-mtls, protocol: HTTPS}
    hosts: [mtls.example.com]
    tls: {mode: MUTUAL, credentialName: mtls-cert}
  - port: {number: 443, name: https-san, protocol: HTTPS}
    hosts: [san.example.com]
    tls:
      mode: MUTUAL
      credentialName: mtls-cert
      subjectAltNames: ["spiffe://cluster.local/ns/shop/sa/frontend"]
  - port: {number: 443, name: https-split, protocol: HTTPS}
    hosts: [split.example.com]
    tls: {mode: MUTUAL, credentialName: split-cert}
  - port: {number: 443, name: https-optional, protocol: HTTPS}
    hosts: [optional.example.com]
    tls: {mode: OPTIONAL_MUTUAL, credentialName: mtls-cert}
  - port: {number: 443, name: tls-nginx, protocol: TLS}
    hosts: [nginx.example.com]
    tls: {mode: PASSTHROUGH}
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*.example.com"]
    tls: {httpsRedirect: true}
`

// edgeRoutes routes the TLS servers' hosts to the backend on port backend and passes
// nginx.example.com through to nginx on port nginx.
func edgeRoutes(backend, nginx int) string {
	return docs(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: istio-system}
spec:
  hosts: [a.example.com, b.example.com, mtls.example.com, san.example.com, split.example.com, optional.example.com]
  gateways: [edge]
  http:
  - route:
    - destination: {host: backend.internal}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: nginx, namespace: istio-system}
spec:
  hosts: [nginx.example.com]
  gateways: [edge]
  tls:
  - match:
    - sniHosts: [nginx.example.com]
      port: 443
    route:
    - destination: {host: nginx.internal, port: {number: 443}}
`,
		staticEntry("backend", "istio-system", "backend.internal", 80, "HTTP", backend),
		staticEntry("nginx", "istio-system", "nginx.internal", 443, "TLS", nginx))
}

// edge is a running gateway with the TLS servers above, and the PKI behind it.
type edge struct {
	g                      *gatehouse
	dir                    string
	serverCA, clientCA     *ca
	nginxCA                *ca
	frontend, other, wrong pair
	tls                    int
}

func startEdge(t *testing.T) *edge {
	t.Helper()
	e := &edge{dir: t.TempDir(), serverCA: newCA(t, "server-ca"), clientCA: newCA(t, "client-ca")}
	e.nginxCA = newCA(t, "nginx-ca")
	e.frontend = e.clientCA.issue(t, leafOpts{client: true, uris: []string{"spiffe://cluster.local/ns/shop/sa/frontend"}})
	e.other = e.clientCA.issue(t, leafOpts{client: true, uris: []string{"spiffe://cluster.local/ns/shop/sa/other"}})
	e.wrong = newCA(t, "rogue-ca").issue(t, leafOpts{client: true, uris: []string{"spiffe://cluster.local/ns/shop/sa/frontend"}})

	a := e.serverCA.issue(t, leafOpts{dns: []string{"a.example.com"}, serial: 0xa1})
	b := e.serverCA.issue(t, leafOpts{dns: []string{"b.example.com"}, serial: 0xb1})
	m := e.serverCA.issue(t, leafOpts{dns: []string{"mtls.example.com", "san.example.com", "optional.example.com"}})
	sp := e.serverCA.issue(t, leafOpts{dns: []string{"split.example.com"}})
	secrets := strings.Join([]string{
		secretYAML("a-cert", "tls", a.cert, a.key, ""),
		secretYAML("b-cert", "generic", b.cert, b.key, ""),
		secretYAML("mtls-cert", "tls", m.cert, m.key, e.clientCA.pem),
		secretYAML("split-cert", "generic", sp.cert, sp.key, ""),
		secretYAML("split-cert-cacert", "tls", "", "", e.clientCA.pem),
	}, "---\n")
	writeFile(t, e.dir, "secrets.yaml", secrets)

	backendPort := backend(t, "v1")
	nginxPort := nginxTLS(t, "nginx.example.com", e.nginxCA.issue(t, leafOpts{dns: []string{"nginx.example.com"}}))
	writeFile(t, e.dir, "gateway.yaml", edgeGateway)
	writeFile(t, e.dir, "routes.yaml", edgeRoutes(backendPort, nginxPort))
	e.g = runPorts(t, e.dir, []int{443, 80})
	e.tls = e.g.ports[443]
	return e
}

func TestTLSEdge(t *testing.T) {
	t.Parallel()
	e := startEdge(t)
	cacert := []string{"--cacert", e.serverCA.file}
	withCert := func(p pair) []string { return append([]string{"--cert", p.certFile, "--key", p.keyFile}, cacert...) }

	t.Run("SIMPLE picks the certificate by SNI in either Secret layout", func(t *testing.T) {
		for _, host := range []string{"a.example.com", "b.example.com"} {
			body, code, stderr := curlTLS(t, e.tls, host, "/headers", cacert...)
			if code != 200 || !strings.Contains(body, `"backend":"v1"`) {
				t.Fatalf("%s: %d %s %s", host, code, body, stderr)
			}
			out := opensslClient(t, e.tls, host, "-CAfile", e.serverCA.file)
			if !strings.Contains(out, "CN = "+host) || !strings.Contains(out, "Verify return code: 0 (ok)") {
				t.Errorf("%s: openssl did not verify the certificate:\n%s", host, out)
			}
		}
	})
	t.Run("unknown SNI is closed without a certificate", func(t *testing.T) {
		out := opensslClient(t, e.tls, "unknown.example.org")
		if !strings.Contains(out, "no peer certificate available") {
			t.Errorf("a certificate was presented:\n%s", out)
		}
	})
	t.Run("MUTUAL refuses a client without a certificate", func(t *testing.T) {
		_, code, stderr := curlTLS(t, e.tls, "mtls.example.com", "/headers", cacert...)
		if code == 200 || !strings.Contains(stderr, "certificate required") {
			t.Errorf("code %d, stderr %q", code, stderr)
		}
	})
	t.Run("MUTUAL refuses a certificate from another CA", func(t *testing.T) {
		if _, code, stderr := curlTLS(t, e.tls, "mtls.example.com", "/headers", withCert(e.wrong)...); code == 200 {
			t.Errorf("accepted a rogue client certificate: %s", stderr)
		}
	})
	t.Run("MUTUAL accepts a good certificate and sets XFCC", func(t *testing.T) {
		body, code, stderr := curlTLS(t, e.tls, "mtls.example.com", "/headers", append(withCert(e.frontend), "-H", "x-forwarded-client-cert: By=forged")...)
		if code != 200 {
			t.Fatalf("code %d: %s", code, stderr)
		}
		if !strings.Contains(body, "Hash=") || !strings.Contains(body, "URI=spiffe://cluster.local/ns/shop/sa/frontend") || strings.Contains(body, "forged") {
			t.Errorf("X-Forwarded-Client-Cert not set from the verified certificate alone:\n%s", body)
		}
	})
	t.Run("subjectAltNames", func(t *testing.T) {
		if _, code, stderr := curlTLS(t, e.tls, "san.example.com", "/headers", withCert(e.frontend)...); code != 200 {
			t.Errorf("matching SAN refused: %d %s", code, stderr)
		}
		if _, code, _ := curlTLS(t, e.tls, "san.example.com", "/headers", withCert(e.other)...); code == 200 {
			t.Error("a certificate without a listed SAN was accepted")
		}
	})
	t.Run("MUTUAL CA from a separate -cacert Secret", func(t *testing.T) {
		if _, code, stderr := curlTLS(t, e.tls, "split.example.com", "/headers", withCert(e.frontend)...); code != 200 {
			t.Errorf("code %d: %s", code, stderr)
		}
		if _, code, _ := curlTLS(t, e.tls, "split.example.com", "/headers", withCert(e.wrong)...); code == 200 {
			t.Error("accepted a rogue client certificate")
		}
	})
	t.Run("OPTIONAL_MUTUAL", func(t *testing.T) {
		body, code, stderr := curlTLS(t, e.tls, "optional.example.com", "/headers", cacert...)
		if code != 200 || strings.Contains(body, "Hash=") {
			t.Errorf("without a certificate: %d %s %s", code, body, stderr)
		}
		body, code, stderr = curlTLS(t, e.tls, "optional.example.com", "/headers", withCert(e.frontend)...)
		if code != 200 || !strings.Contains(body, "URI=spiffe://cluster.local/ns/shop/sa/frontend") {
			t.Errorf("with a certificate: %d %s %s", code, body, stderr)
		}
	})
	t.Run("httpsRedirect", func(t *testing.T) {
		out, code := curl(t, "-si", "--resolve", fmt.Sprintf("a.example.com:%d:127.0.0.1", e.g.ports[80]), fmt.Sprintf("http://a.example.com:%d/x?y=1", e.g.ports[80]))
		if code != 301 || !strings.Contains(strings.ToLower(out), "location: https://a.example.com") {
			t.Errorf("code %d:\n%s", code, out)
		}
	})
	t.Run("PASSTHROUGH to nginx beside a terminated host", func(t *testing.T) {
		body, code, stderr := curlTLS(t, e.tls, "nginx.example.com", "/", "--cacert", e.nginxCA.file)
		if code != 200 || !strings.Contains(body, "hello from nginx") {
			t.Fatalf("code %d body %q: %s", code, body, stderr)
		}
		if out := opensslClient(t, e.tls, "nginx.example.com"); !strings.Contains(out, "nginx-ca") {
			t.Errorf("the certificate is not nginx's own:\n%s", out)
		}
		if _, code, _ := curlTLS(t, e.tls, "a.example.com", "/headers", cacert...); code != 200 {
			t.Errorf("terminated host on the same port: %d", code)
		}
	})
}
