package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/authz/jwt"
	"github.com/gatehouse-dev/gatehouse/authz/jwt/jwttest"
)

// testIssuer signs JWTs for issuer https://issuer.test with one ES256 key, published as an inline JWKS.
type testIssuer struct{ *jwttest.Signer }

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	return &testIssuer{jwttest.New(t, jwa.ES256, "k1")}
}

// token signs claims; iss defaults to https://issuer.test and exp to an hour from now.
func (i *testIssuer) token(t *testing.T, claims map[string]any) string {
	t.Helper()
	c := map[string]any{"iss": "https://issuer.test"}
	maps.Copy(c, claims)
	return i.Sign(t, c)
}

// startAuthzGateway serves docs with an in-process authz.Engine compiled from the same snapshot.
func startAuthzGateway(t *testing.T, docs []string, ports ...uint32) *testGateway {
	t.Helper()
	return startAuthzGatewayWith(t, authz.Options{}, nil, docs, ports...)
}

// startAuthzGatewayWith is startAuthzGateway with engine options and, when s is set, TLS
// credentials and server port 443.
func startAuthzGatewayWith(t *testing.T, eo authz.Options, s *secrets, docs []string, ports ...uint32) *testGateway {
	t.Helper()
	snap := snapshot(t, 1, docs...)
	keys := jwt.NewKeys(jwt.KeysOptions{})
	t.Cleanup(keys.Close)
	c, err := authz.Compile(snap, keys)
	if err != nil {
		t.Fatalf("authz.Compile: %v", err)
	}
	e := authz.NewEngine(eo)
	e.Apply(c)
	portMap := map[uint32]uint32{80: 0}
	for _, p := range ports {
		portMap[p] = 0
	}
	g := newTestGateway(t, portMap, func(o *Options) {
		o.Authz = e
		if s != nil {
			o.Credentials = s.store
			portMap[443] = 0
		}
	})
	if err := g.Apply(snap); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return g
}

// authzBackend answers with what authorization let through: the token and the claim header.
func authzBackend(t *testing.T, hits *atomic.Int64) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("X-Seen-Authorization", r.Header.Get("Authorization"))
		w.Header().Set("X-Seen-Sub", r.Header.Get("X-Jwt-Sub"))
		w.Header().Set("X-Seen-Path", r.URL.RequestURI())
		_, _ = io.WriteString(w, "backend")
	}))
	t.Cleanup(srv.Close)
	return srv
}

const routeAllToApp = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: app, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  http: [{route: [{destination: {host: app.internal}}]}]
`

// rawGet sends a request line exactly as written, so that paths the client library would
// clean (/a/../admin) reach the gateway as sent.
func rawGet(t *testing.T, addr, path string, headers ...string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	b.WriteString("GET " + path + " HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\n")
	for i := 0; i+1 < len(headers); i += 2 {
		b.WriteString(headers[i] + ": " + headers[i+1] + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func TestAuthzHTTP(t *testing.T) {
	t.Parallel()
	iss := newTestIssuer(t)
	var hits atomic.Int64
	app := authzBackend(t, &hits)
	jwks, _ := json.Marshal(iss.JWKS)
	g := startAuthzGateway(t, []string{edgeGateway, staticEntry("app", "app.internal", port(t, app)), routeAllToApp,
		`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  jwtRules:
  - issuer: https://issuer.test
    jwks: ` + string(jwks) + `
    outputClaimToHeaders: [{header: x-jwt-sub, claim: sub}]
`, `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: DENY
  rules: [{to: [{operation: {paths: [/admin, /admin/*]}}]}]
`, `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: ALLOW
  rules:
  - to: [{operation: {paths: [/public, /public/*, /admin, /admin/*]}}]
  - from: [{source: {requestPrincipals: ["https://issuer.test/*"]}}]
`})
	addr := g.addr(t, 80)
	good := iss.token(t, map[string]any{"sub": "alice"})
	expired := iss.token(t, map[string]any{"sub": "alice", "exp": time.Now().Add(-time.Hour).Unix()})
	badSig := good[:len(good)-4] + "AAAA"

	tests := []struct {
		name, path, token string
		code              int
		body              string
		// upstream is set when the request must reach the backend.
		upstream bool
	}{
		{name: "public without token", path: "/public", code: 200, body: "backend", upstream: true},
		{name: "bad signature", path: "/public", token: badSig, code: 401, body: "Jwt verification fails"},
		{name: "expired", path: "/public", token: expired, code: 401, body: "Jwt is expired"},
		{name: "not allowed without token", path: "/secure", code: 403, body: authz.ReasonDenied},
		{name: "allowed with token", path: "/secure", token: good, code: 200, body: "backend", upstream: true},
		{name: "denied path", path: "/admin", code: 403, body: authz.ReasonDenied},
		{name: "denied path with a token", path: "/admin", token: good, code: 403, body: authz.ReasonDenied},
		{name: "dot segments normalized before the deny", path: "/public/../admin", code: 403, body: authz.ReasonDenied},
		{name: "encoded unreserved normalized before the deny", path: "/%61dmin", code: 403, body: authz.ReasonDenied},
		{name: "sub path of the deny", path: "/admin/x/../y", code: 403, body: authz.ReasonDenied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Not parallel: the backend's hit counter tells which requests reached it.
			var hdrs []string
			if tc.token != "" {
				hdrs = []string{"Authorization", "Bearer " + tc.token}
			}
			before := hits.Load()
			res, body := rawGet(t, addr, tc.path, hdrs...)
			if res.StatusCode != tc.code || body != tc.body {
				t.Fatalf("%d %q, want %d %q", res.StatusCode, body, tc.code, tc.body)
			}
			if reached := hits.Load() > before; reached != tc.upstream {
				t.Errorf("reached the upstream: %v, want %v", reached, tc.upstream)
			}
			switch tc.code {
			case 401:
				if wa := res.Header.Get("Www-Authenticate"); !strings.HasPrefix(wa, "Bearer realm=") || !strings.Contains(wa, `error="invalid_token"`) {
					t.Errorf("www-authenticate %q", wa)
				}
				fallthrough
			case 403:
				if ct := res.Header.Get("Content-Type"); ct != "text/plain" {
					t.Errorf("content-type %q, want text/plain", ct)
				}
			}
			if tc.token == good && tc.code == 200 {
				if a, sub := res.Header.Get("X-Seen-Authorization"), res.Header.Get("X-Seen-Sub"); a != "" || sub != "alice" {
					t.Errorf("upstream saw Authorization %q and x-jwt-sub %q; want no token and alice", a, sub)
				}
			}
		})
	}
	for reason, want := range map[string]float64{denialRBAC: 6, denialJWT: 2} {
		if got := testutil.ToFloat64(g.metrics.authzDenied.WithLabelValues(reason)); got != want {
			t.Errorf("gatehouse_authz_denied_total{reason=%q} = %v, want %v", reason, got, want)
		}
	}
}

func TestAuthzRemoteIP(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	app := authzBackend(t, &hits)
	g := startAuthzGateway(t, []string{edgeGateway, staticEntry("app", "app.internal", port(t, app)), routeAllToApp,
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |\n" +
			"    defaultConfig: {gatewayTopology: {numTrustedProxies: 1}}\n",
		`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-net, namespace: istio-system}
spec:
  action: DENY
  rules: [{from: [{source: {remoteIpBlocks: [203.0.113.0/24]}}]}]
`})
	addr := g.addr(t, 80)
	tests := []struct {
		name, xff string
		code      int
	}{
		{"client in the denied block", "203.0.113.7", 403},
		{"client outside the block", "198.51.100.1", 200},
		{"only the trusted hop counts", "203.0.113.7, 198.51.100.1", 200},
		{"no header: the peer is the client", "", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var hdrs []string
			if tc.xff != "" {
				hdrs = []string{"X-Forwarded-For", tc.xff}
			}
			res, body := rawGet(t, addr, "/", hdrs...)
			if res.StatusCode != tc.code {
				t.Fatalf("%d %q, want %d", res.StatusCode, body, tc.code)
			}
		})
	}
}

func TestAuthzCustomFailsClosed(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	app := authzBackend(t, &hits)
	g := startAuthzGatewayWith(t, authz.Options{CustomProviderReady: func(string) bool { return true }}, nil,
		[]string{edgeGateway, staticEntry("app", "app.internal", port(t, app)), routeAllToApp,
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |\n" +
				"    extensionProviders:\n    - name: opa\n      envoyExtAuthzGrpc: {service: opa.internal, port: 9191}\n",
			`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext, namespace: istio-system}
spec:
  action: CUSTOM
  provider: {name: opa}
  rules: [{to: [{operation: {paths: [/ext/*]}}]}]
`})
	addr := g.addr(t, 80)
	if res, body := rawGet(t, addr, "/ext/x"); res.StatusCode != 403 || body != "" {
		t.Errorf("CUSTOM path: %d %q, want 403 with no body", res.StatusCode, body)
	}
	if res, _ := rawGet(t, addr, "/other"); res.StatusCode != 200 {
		t.Errorf("path no CUSTOM rule matches: %d, want 200", res.StatusCode)
	}
	if hits.Load() != 1 {
		t.Errorf("upstream hits %d, want 1", hits.Load())
	}
	if got := testutil.ToFloat64(g.metrics.authzDenied.WithLabelValues(denialCustom)); got != 1 {
		t.Errorf("gatehouse_authz_denied_total{reason=custom} = %v, want 1", got)
	}
}

// countingEcho is a TCP echo upstream that counts the connections it accepts.
func countingEcho(t *testing.T, accepted *atomic.Int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
				_ = c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p
}

func TestAuthzTCP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, rule string
		allowed    bool
	}{
		{"deny ipBlocks matches the peer", "action: DENY\n  rules: [{from: [{source: {ipBlocks: [127.0.0.1/32]}}]}]", false},
		{"deny ipBlocks of another network", "action: DENY\n  rules: [{from: [{source: {ipBlocks: [192.0.2.0/24]}}]}]", true},
		{"allow notIpBlocks excludes the peer", "action: ALLOW\n  rules: [{from: [{source: {notIpBlocks: [127.0.0.0/8]}}]}]", false},
		{"allow ipBlocks includes the peer", "action: ALLOW\n  rules: [{from: [{source: {ipBlocks: [127.0.0.0/8]}}]}]", true},
		{"allow with an HTTP-only field never matches TCP", "action: ALLOW\n  rules: [{to: [{operation: {paths: [/]}}]}]", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var accepted atomic.Int64
			echoPort := countingEcho(t, &accepted)
			g := startAuthzGateway(t, []string{
				tlsGatewayDoc("  - port: {number: 5432, name: tcp, protocol: TCP}\n    hosts: [\"*\"]\n"),
				tcpEntry("echo", "echo.internal", "TCP", echoPort),
				`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  tcp: [{match: [{port: 5432}], route: [{destination: {host: echo.internal, port: {number: 443}}}]}]
`, "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: tcp, namespace: istio-system}\nspec:\n  " + tc.rule + "\n",
			}, 5432)
			conn, err := net.Dial("tcp", g.addr(t, 5432))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			_, _ = io.WriteString(conn, "ping")
			_ = conn.(*net.TCPConn).CloseWrite()
			got, err := io.ReadAll(conn)
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatal("connection neither served nor closed")
			}
			if tc.allowed != (string(got) == "ping") {
				t.Errorf("echoed %q (err %v); allowed %v", got, err, tc.allowed)
			}
			if !tc.allowed && accepted.Load() != 0 {
				t.Error("a denied connection reached the upstream")
			}
		})
	}
}

func TestDeniedDetails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    authz.Decision
		want string
	}{
		{authz.Decision{Status: 403, Reason: authz.ReasonDenied}, "rbac_access_denied_matched_policy[none]"},
		{authz.Decision{Status: 403, Reason: authz.ReasonDenied, Policy: "ns[foo]-policy[deny]-rule[0]"}, "rbac_access_denied_matched_policy[ns[foo]-policy[deny]-rule[0]]"},
		{authz.Decision{Status: 401, Reason: "Jwt is expired"}, "jwt_authn_access_denied{Jwt_is_expired}"},
		{authz.Decision{Status: 403, Reason: "Audiences in Jwt are not allowed"}, "jwt_authn_access_denied{Audiences_in_Jwt_are_not_allowed}"},
		{authz.Decision{Status: 503, Reason: "authz: no policy loaded"}, "ext_authz_error"},
	}
	for _, tc := range tests {
		if got := deniedDetails(denialKind(&tc.d), &tc.d); got != tc.want {
			t.Errorf("%d %q: %q, want %q", tc.d.Status, tc.d.Reason, got, tc.want)
		}
	}
}

func TestAuthzMutualTLSPrincipal(t *testing.T) {
	t.Parallel()
	web := backend(t, "web")
	serverCA, clientCA := newAuthority(t, "server CA"), newAuthority(t, "client CA")
	server := serverCA.issue(t, leafSpec{cn: "gateway", dns: []string{"mtls.example.com"}})
	good := clientCA.issue(t, leafSpec{cn: "good", client: true, uris: []string{"spiffe://partner.example/ns/a/sa/good"}})
	other := clientCA.issue(t, leafSpec{cn: "other", client: true, uris: []string{"spiffe://partner.example/ns/b/sa/other"}})
	s := newSecrets()
	s.put("mtls-cert", "tls.crt", server.certPEM, "tls.key", server.keyPEM, "ca.crt", clientCA.pem)
	g := startAuthzGatewayWith(t, authz.Options{}, s, []string{
		tlsGatewayDoc(`  - port: {number: 443, name: mtls, protocol: HTTPS}
    hosts: [mtls.example.com]
    tls: {mode: OPTIONAL_MUTUAL, credentialName: mtls-cert}
`), staticEntry("web", "web.internal", port(t, web)), routeAll("web", "web.internal"),
		`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: partners, namespace: istio-system}
spec:
  action: ALLOW
  rules:
  - from: [{source: {principals: [partner.example/ns/a/sa/good]}}]
    when: [{key: connection.sni, values: [mtls.example.com]}]
`})
	addr := g.addr(t, 443)
	tests := []struct {
		name   string
		client *issued
		code   int
	}{
		{"the allowed principal", good, 200},
		{"another principal", other, 403},
		{"no client certificate", nil, 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var cert *tls.Certificate
			if tc.client != nil {
				cert = &tc.client.tls
			}
			res, _, err := fetch(httpsClient(t, addr, serverCA.pool(), cert), "https://mtls.example.com/")
			if err != nil || res.code != tc.code {
				t.Fatalf("%d %q (%v), want %d", res.code, res.body, err, tc.code)
			}
		})
	}
}

// TestAuthzProxyProtocolPeers: behind an L4 load balancer speaking the PROXY protocol, Envoy's
// source.ip (ipBlocks) stays the socket peer, the load balancer, while remote.ip
// (remoteIpBlocks) is the client the header names.
func TestAuthzProxyProtocolPeers(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	app := authzBackend(t, &hits)
	g := startAuthzGateway(t, []string{edgeGateway, staticEntry("app", "app.internal", port(t, app)), routeAllToApp,
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |\n" +
			"    defaultConfig: {gatewayTopology: {proxyProtocol: {}}}\n",
		`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-lb-and-client, namespace: istio-system}
spec:
  action: DENY
  rules:
  - to: [{operation: {paths: [/by-peer]}}]
    from: [{source: {ipBlocks: [127.0.0.1/32]}}]
  - to: [{operation: {paths: [/by-client]}}]
    from: [{source: {remoteIpBlocks: [203.0.113.0/24]}}]
  - to: [{operation: {paths: [/client-as-peer]}}]
    from: [{source: {ipBlocks: [203.0.113.0/24]}}]
`})
	addr := g.addr(t, 80)
	const header = "PROXY TCP4 203.0.113.7 127.0.0.1 5555 80\r\n"
	for path, want := range map[string]int{"/by-peer": 403, "/by-client": 403, "/client-as-peer": 200} {
		if code, body := rawExchange(t, addr, header+"GET "+path+" HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\n\r\n"); code != want {
			t.Errorf("%s: %d %q, want %d", path, code, body, want)
		}
	}
}
