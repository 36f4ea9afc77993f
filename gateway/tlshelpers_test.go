package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/sds"
)

// secrets feeds Secrets in the gateway's namespace to a credential store, as the config-dir
// source does.
type secrets struct {
	store *sds.Store
	mu    sync.Mutex
	items map[string]map[string][]byte
}

func newSecrets() *secrets {
	return &secrets{store: sds.NewStore(sds.StoreOptions{}), items: map[string]map[string][]byte{}}
}

// put adds or replaces Secret istio-system/name; keys and values alternate.
func (s *secrets) put(name string, kv ...any) {
	data := map[string][]byte{}
	for i := 0; i+1 < len(kv); i += 2 {
		data[kv[i].(string)] = kv[i+1].([]byte)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items["istio-system/"+name] = data
	s.store.ReplaceSource("test", maps.Clone(s.items))
}

// startTLSGateway serves snap with the store's credentials; ports 80, 443 and the given ones
// listen on ephemeral ports.
func startTLSGateway(t *testing.T, s *secrets, snap *policy.Snapshot, ports ...uint32) *testGateway {
	t.Helper()
	portMap := map[uint32]uint32{80: 0, 443: 0}
	for _, p := range ports {
		portMap[p] = 0
	}
	g := newTestGateway(t, portMap, func(o *Options) { o.Credentials = s.store })
	if err := g.Apply(snap); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return g
}

// httpsClient sends every request to the gateway at addr, with the URL's host as SNI, and
// presents cert when asked for a client certificate.
func httpsClient(t *testing.T, addr string, roots *x509.CertPool, cert *tls.Certificate) *http.Client {
	t.Helper()
	cfg := &tls.Config{RootCAs: roots}
	if cert != nil {
		// Sent whatever CAs the server names, as curl and openssl do; Go's default would keep a
		// certificate from an unlisted CA to itself.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, addr)
		},
		TLSClientConfig:     cfg,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 64,
		DisableCompression:  true,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// fetch sends a GET for url and reads the whole response.
func fetch(client *http.Client, url string, headers ...string) (response, *http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return response{}, nil, err
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			// The SNI stays the URL's host.
			req.Host = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		return response{}, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, nil, err
	}
	return response{code: res.StatusCode, body: string(b), header: res.Header}, res, nil
}

// handshake dials addr, completes a TLS handshake as cfg says, and sends one HTTP/1.1 request:
// a client certificate the server refuses surfaces as an alert on the first read, since a TLS
// 1.3 client finishes its handshake before the server has looked at its certificate. It returns
// the connection state, the response's status line, and the first error.
func handshake(t *testing.T, addr string, cfg *tls.Config) (tls.ConnectionState, string, error) {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return tls.ConnectionState{}, "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: "+cfg.ServerName+"\r\nConnection: close\r\n\r\n"); err != nil {
		return conn.ConnectionState(), "", err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return conn.ConnectionState(), strings.TrimSpace(line), err
}

// tlsGatewayDoc is a Gateway with the given servers YAML (indented for spec.servers).
func tlsGatewayDoc(servers string) string {
	return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
` + servers
}

// routeAll binds every host of the edge Gateway to host.
func routeAll(name, host string) string {
	return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ` + name + `, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
  - route: [{destination: {host: ` + host + `}}]
`
}
