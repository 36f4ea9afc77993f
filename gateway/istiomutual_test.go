package gateway

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/authz/jwt"
	"github.com/gatehouse-dev/gatehouse/sds"
)

const gatewayID = "spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"

// meshLeaf issues a workload certificate as the mesh CA does: one SPIFFE URI SAN, empty
// subject, for both client and server auth.
func (a *authority) meshLeaf(t *testing.T, id string) *issued {
	t.Helper()
	key := ecKey(t)
	u, err := url.Parse(id)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(a.serial.Add(1)), Subject: pkix.Name{}, URIs: []*url.URL{u},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, key.Public(), a.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	out := &issued{certPEM: pemBlock("CERTIFICATE", der), keyPEM: pemBlock("PRIVATE KEY", kder)}
	if out.tls, err = tls.X509KeyPair(out.certPEM, out.keyPEM); err != nil {
		t.Fatal(err)
	}
	out.cert = out.tls.Leaf
	return out
}

// meshStore holds the gateway's mesh identity as the workload manager publishes it: SDS
// "default" and "ROOTCA"; a nil leaf leaves "default" out.
func meshStore(ca *authority, leaf *issued) *sds.Store {
	store := sds.NewStore(sds.StoreOptions{})
	items := map[string]map[string][]byte{meshRoots: {"ca.crt": ca.pem}}
	if leaf != nil {
		items[meshCertificate] = map[string][]byte{"tls.crt": leaf.certPEM, "tls.key": leaf.keyPEM}
	}
	store.ReplaceSource("workload", items)
	return store
}

// startMeshGateway serves docs on ports 80 and 443 with the store and an authz engine compiled
// from the same snapshot.
func startMeshGateway(t *testing.T, store *sds.Store, docs ...string) *testGateway {
	t.Helper()
	snap := snapshot(t, 1, docs...)
	keys := jwt.NewKeys(jwt.KeysOptions{})
	t.Cleanup(keys.Close)
	c, err := authz.Compile(snap, keys)
	if err != nil {
		t.Fatalf("authz.Compile: %v", err)
	}
	e := authz.NewEngine(authz.Options{})
	e.Apply(c)
	g := newTestGateway(t, map[uint32]uint32{80: 0, 443: 0}, func(o *Options) {
		o.Credentials = store
		o.Authz = e
	})
	if err := g.Apply(snap); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return g
}

// meshClient connects to the gateway at addr as a sidecar does: its mesh certificate, the mesh
// roots, and the gateway's SPIFFE ID instead of a host name.
func meshClient(t *testing.T, addr string, roots *x509.CertPool, cert *tls.Certificate) *http.Client {
	t.Helper()
	c := httpsClient(t, addr, roots, cert)
	cfg := c.Transport.(*http.Transport).TLSClientConfig
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = verifyMeshServer(roots, []string{gatewayID})
	return c
}

// TestIstioMutualServer: a Gateway server with ISTIO_MUTUAL serves the mesh identity, admits
// mesh clients only, and gives their SPIFFE ID to authorization and x-forwarded-client-cert.
func TestIstioMutualServer(t *testing.T) {
	t.Parallel()
	web := backend(t, "web")
	mesh, foreign := newAuthority(t, "mesh CA"), newAuthority(t, "foreign CA")
	good := mesh.meshLeaf(t, "spiffe://cluster.local/ns/apps/sa/good")
	other := mesh.meshLeaf(t, "spiffe://cluster.local/ns/apps/sa/other")
	stranger := foreign.meshLeaf(t, "spiffe://cluster.local/ns/apps/sa/good")
	g := startMeshGateway(t, meshStore(mesh, mesh.meshLeaf(t, gatewayID)),
		tlsGatewayDoc(`  - port: {number: 443, name: https-mesh, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: ISTIO_MUTUAL}
`), staticEntry("web", "web.internal", port(t, web)), routeAll("web", "web.internal"),
		`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: mesh-only, namespace: istio-system}
spec:
  action: ALLOW
  rules:
  - from: [{source: {principals: [cluster.local/ns/apps/sa/good]}}]
`)
	addr := g.addr(t, 443)
	tests := []struct {
		name      string
		client    *issued
		code      int
		handshake bool // the handshake itself fails
	}{
		{name: "the allowed principal", client: good, code: 200},
		{name: "another mesh principal", client: other, code: 403},
		{name: "no client certificate", handshake: true},
		{name: "a certificate from another CA", client: stranger, handshake: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var cert *tls.Certificate
			if tc.client != nil {
				cert = &tc.client.tls
			}
			res, _, err := fetch(meshClient(t, addr, mesh.pool(), cert), "https://web.internal/")
			if tc.handshake {
				if err == nil {
					t.Fatalf("answered %d, want a failed handshake", res.code)
				}
				return
			}
			if err != nil || res.code != tc.code {
				t.Fatalf("%d %q (%v), want %d", res.code, res.body, err, tc.code)
			}
			if tc.code != 200 {
				return
			}
			xfcc := res.header.Get("X-Seen-Xfcc")
			for _, want := range []string{"By=" + gatewayID, "URI=spiffe://cluster.local/ns/apps/sa/good"} {
				if !strings.Contains(xfcc, want) {
					t.Errorf("x-forwarded-client-cert %q lacks %s", xfcc, want)
				}
			}
		})
	}
}

// TestIstioMutualServerWithoutIdentity: with no mesh certificate the handshakes fail, counted as
// a missing credential; the port never answers in plaintext or with another certificate.
func TestIstioMutualServerWithoutIdentity(t *testing.T) {
	t.Parallel()
	web := backend(t, "web")
	mesh := newAuthority(t, "mesh CA")
	client := mesh.meshLeaf(t, "spiffe://cluster.local/ns/apps/sa/good")
	g := startMeshGateway(t, meshStore(mesh, nil),
		tlsGatewayDoc(`  - port: {number: 443, name: https-mesh, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: ISTIO_MUTUAL}
`), staticEntry("web", "web.internal", port(t, web)), routeAll("web", "web.internal"))
	if res, _, err := fetch(meshClient(t, g.addr(t, 443), mesh.pool(), &client.tls), "https://web.internal/"); err == nil {
		t.Fatalf("answered %d without a mesh certificate", res.code)
	}
	if n := testutil.ToFloat64(g.metrics.handshakeErrors.WithLabelValues(reasonMissingCredential)); n != 1 {
		t.Errorf("missing_credential = %v, want 1", n)
	}
	if res, err := get(t, newClient(t), g.addr(t, 443), "web.internal", "/"); err == nil {
		t.Fatalf("plaintext answered %d", res.code)
	}
}

// meshUpstream is a TLS server holding a mesh certificate that requires a mesh client
// certificate and records the SNI and ALPN it was offered.
type meshUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	sni  string
	alpn []string
}

func startMeshUpstream(t *testing.T, mesh *authority, id string, h2 bool) *meshUpstream {
	t.Helper()
	leaf := mesh.meshLeaf(t, id)
	u := &meshUpstream{Server: httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 && len(r.TLS.PeerCertificates[0].URIs) > 0 {
			w.Header().Set("X-Seen-Client", r.TLS.PeerCertificates[0].URIs[0].String())
		}
		echo("mesh").ServeHTTP(w, r)
	}))}
	u.TLS = &tls.Config{
		Certificates: []tls.Certificate{leaf.tls},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    mesh.pool(),
		NextProtos:   []string{"http/1.1"},
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			u.mu.Lock()
			u.sni, u.alpn = hello.ServerName, slices.Clone(hello.SupportedProtos)
			u.mu.Unlock()
			return nil, nil
		},
	}
	u.EnableHTTP2 = h2
	if h2 {
		u.TLS.NextProtos = []string{"h2", "http/1.1"}
	}
	u.Config.ErrorLog = log.New(io.Discard, "", 0)
	u.StartTLS()
	t.Cleanup(u.Close)
	return u
}

func (u *meshUpstream) offered() (string, []string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.sni, u.alpn
}

// meshEntry is a MESH_INTERNAL ServiceEntry for reviews.apps.svc.cluster.local whose port 8080
// (protocol given) is one loopback endpoint on port, with a service account and labels.
func meshEntry(protocol, port, sa, labels string) string {
	return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: apps}
spec:
  hosts: [reviews.apps.svc.cluster.local]
  location: MESH_INTERNAL
  ports: [{number: 8080, name: port, protocol: %s, targetPort: %s}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, serviceAccount: %q, labels: {%s}}]
`, protocol, port, sa, labels)
}

const reviewsRoute = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  http: [{route: [{destination: {host: reviews.apps.svc.cluster.local, port: {number: 8080}}}]}]
`

const reviewsIstioMutual = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: apps}
spec:
  host: reviews.apps.svc.cluster.local
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
`

const meshConfigAlias = `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    trustDomainAliases: [old.example]
`

// TestIstioMutualOrigination: the gateway reaches a mesh server with its mesh certificate, the
// SNI and ALPN an Istio gateway sends, and secure naming: the server's SPIFFE ID must be the
// service's account, in the trust domain or an alias; otherwise 503 (connection failure).
func TestIstioMutualOrigination(t *testing.T) {
	t.Parallel()
	mesh := newAuthority(t, "mesh CA")
	store := meshStore(mesh, mesh.meshLeaf(t, gatewayID))
	tests := []struct {
		name     string
		serverID string
		protocol string
		dr       string
		labels   string
		want     int
		wantALPN []string
		wantSNI  string
		wantH2   bool
		plain    bool // the endpoint is a plaintext server
	}{
		{name: "HTTP with the service account", serverID: "spiffe://cluster.local/ns/apps/sa/reviews", protocol: "HTTP", dr: reviewsIstioMutual,
			want: 200, wantSNI: "outbound_.8080_._.reviews.apps.svc.cluster.local", wantALPN: []string{"istio-http/1.1", "istio", "http/1.1"}},
		{name: "HTTP2 speaks h2", serverID: "spiffe://cluster.local/ns/apps/sa/reviews", protocol: "HTTP2", dr: reviewsIstioMutual,
			want: 200, wantSNI: "outbound_.8080_._.reviews.apps.svc.cluster.local", wantALPN: []string{"istio-h2", "istio", "h2"}, wantH2: true},
		{name: "an alias trust domain", serverID: "spiffe://old.example/ns/apps/sa/reviews", protocol: "HTTP", dr: reviewsIstioMutual, want: 200},
		{name: "the wrong service account", serverID: "spiffe://cluster.local/ns/apps/sa/ratings", protocol: "HTTP", dr: reviewsIstioMutual, want: 503},
		{name: "auto mTLS for a labelled endpoint", serverID: "spiffe://cluster.local/ns/apps/sa/reviews", protocol: "HTTP",
			labels: "security.istio.io/tlsMode: istio", want: 200, wantSNI: "outbound_.8080_._.reviews.apps.svc.cluster.local"},
		{name: "no auto mTLS without the label", protocol: "HTTP", plain: true, want: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var up *meshUpstream
			var upstreamPort string
			if tt.plain {
				upstreamPort = port(t, backend(t, "plain"))
			} else {
				up = startMeshUpstream(t, mesh, tt.serverID, tt.wantH2)
				upstreamPort = port(t, up.Server)
			}
			docs := []string{meshConfigAlias, edgeGateway, meshEntry(tt.protocol, upstreamPort, "reviews", tt.labels), reviewsRoute}
			if tt.dr != "" {
				docs = append(docs, tt.dr)
			}
			g := startMeshGateway(t, store, docs...)
			res, err := get(t, newClient(t), g.addr(t, 80), "reviews", "/")
			if err != nil {
				t.Fatal(err)
			}
			if res.code != tt.want {
				t.Fatalf("status %d (%q), want %d", res.code, res.body, tt.want)
			}
			if tt.want != 200 {
				return
			}
			if tt.plain {
				if res.body != "plain" {
					t.Errorf("body %q, want the plaintext server's", res.body)
				}
				return
			}
			if got := res.header.Get("X-Seen-Client"); got != gatewayID {
				t.Errorf("server saw client %q, want the gateway's mesh identity", got)
			}
			sni, alpn := up.offered()
			if tt.wantSNI != "" && sni != tt.wantSNI {
				t.Errorf("SNI %q, want %q", sni, tt.wantSNI)
			}
			if tt.wantALPN != nil && !slices.Equal(alpn, tt.wantALPN) {
				t.Errorf("ALPN %q, want %q", alpn, tt.wantALPN)
			}
			if proto := res.header.Get("X-Seen-Proto"); tt.wantH2 != (proto == "HTTP/2.0") {
				t.Errorf("upstream protocol %s", proto)
			}
		})
	}
}

// TestIstioMutualSecureNamingReply: a refused server identity is Envoy's connection failure.
func TestIstioMutualSecureNamingReply(t *testing.T) {
	t.Parallel()
	mesh := newAuthority(t, "mesh CA")
	up := startMeshUpstream(t, mesh, "spiffe://cluster.local/ns/apps/sa/ratings", false)
	g := startMeshGateway(t, meshStore(mesh, mesh.meshLeaf(t, gatewayID)),
		edgeGateway, meshEntry("HTTP", port(t, up.Server), "reviews", ""), reviewsRoute, reviewsIstioMutual)
	res, err := get(t, newClient(t), g.addr(t, 80), "reviews", "/")
	if err != nil {
		t.Fatal(err)
	}
	if res.code != http.StatusServiceUnavailable || res.body != bodyConnectFailure {
		t.Fatalf("%d %q, want 503 %q", res.code, res.body, bodyConnectFailure)
	}
}
