package ca

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	securityapi "istio.io/api/security/v1alpha1"
)

type testServer struct {
	a    *Authority
	s    *Server
	addr string
	reg  *prometheus.Registry
}

// startServer serves the CA over real TLS on a loopback listener.
func startServer(t *testing.T, o ServerOptions) *testServer {
	t.Helper()
	a := mustNew(t, Options{DataDir: t.TempDir(), TrustDomain: "mesh.example", TrustDomainAliases: []string{"old.example"}})
	reg := prometheus.NewRegistry()
	o.Registerer = reg
	s := NewServer(a, o)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(grpc.Creds(credentials.NewTLS(s.TLSConfig())))
	s.Register(g)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	return &testServer{a: a, s: s, addr: lis.Addr().String(), reg: reg}
}

// client dials ts, presenting cert when non-nil.
func (ts *testServer) client(t *testing.T, cert *tls.Certificate) securityapi.IstioCertificateServiceClient {
	t.Helper()
	cfg := &tls.Config{RootCAs: ts.a.Roots(), ServerName: "localhost"}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	conn, err := grpc.NewClient(ts.addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return securityapi.NewIstioCertificateServiceClient(conn)
}

type staticTokens map[string]Identity

func (m staticTokens) Redeem(_ context.Context, token string) (Identity, error) {
	if id, ok := m[token]; ok {
		return id, nil
	}
	return Identity{}, errTokenUnknown
}

func withToken(token string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
}

// create calls CreateCertificate and returns the leaf's SPIFFE ID and a TLS cert made of the
// chain and key, for renewal.
func create(t *testing.T, ctx context.Context, c securityapi.IstioCertificateServiceClient, ttl int64) (string, *tls.Certificate, error) {
	t.Helper()
	csr, key := newCSR(t, []string{"evil.example"}, "spiffe://mesh.example/ns/kube-system/sa/admin")
	resp, err := c.CreateCertificate(ctx, &securityapi.IstioCertificateRequest{Csr: string(csr), ValidityDuration: ttl})
	if err != nil {
		return "", nil, err
	}
	certs := parseChain(t, resp.GetCertChain())
	cert := &tls.Certificate{PrivateKey: key, Leaf: certs[0]}
	for _, c := range certs[:len(certs)-1] {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return certs[0].URIs[0].String(), cert, nil
}

func wantCode(t *testing.T, err error, code codes.Code, what string) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("%s: err = %v, want %s", what, err, code)
	}
}

func TestServerTokenAndRenewal(t *testing.T) {
	t.Parallel()
	ledger := filepath.Join(t.TempDir(), "ledger.json")
	tokens := NewTokens(ledger)
	web := Identity{Namespace: "apps", ServiceAccount: "web"}
	tokens.Apply([]TokenSpec{
		{Name: "apps/web", Identity: web, Token: []byte("web-token-0123456789"), MaxUses: 1},
		{Name: "apps/db", Identity: Identity{Namespace: "apps", ServiceAccount: "db"}, Token: []byte("db-token-0123456789"), MaxUses: 5},
	})
	ts := startServer(t, ServerOptions{Tokens: tokens, RateLimit: 1000, Burst: 1000})
	anon := ts.client(t, nil)

	// A one-time token gets a cert carrying its identity, not what the CSR asked for.
	spiffe, webCert, err := create(t, withToken("web-token-0123456789"), anon, 3600)
	if err != nil {
		t.Fatal(err)
	}
	if spiffe != "spiffe://mesh.example/ns/apps/sa/web" {
		t.Errorf("identity = %s", spiffe)
	}
	if got := webCert.Leaf.NotAfter.Sub(webCert.Leaf.NotBefore); got != time.Hour+time.Minute {
		t.Errorf("validity = %s, want validity_duration 1h (+1m backdate)", got)
	}

	// Reused, it is refused as any unauthenticated caller is.
	_, _, err = create(t, withToken("web-token-0123456789"), anon, 0)
	wantCode(t, err, codes.Unauthenticated, "reused one-time token")
	if st, _ := status.FromError(err); st.Message() != "unauthenticated" {
		t.Errorf("message = %q leaks the reason", st.Message())
	}
	_, _, err = create(t, context.Background(), anon, 0)
	wantCode(t, err, codes.Unauthenticated, "no credentials")
	_, _, err = create(t, withToken("guess"), anon, 0)
	wantCode(t, err, codes.Unauthenticated, "unknown token")

	// Renewal: the client cert's identity wins over a token sent with it.
	renewing := ts.client(t, webCert)
	spiffe, _, err = create(t, withToken("db-token-0123456789"), renewing, 0)
	if err != nil {
		t.Fatal(err)
	}
	if spiffe != "spiffe://mesh.example/ns/apps/sa/web" {
		t.Errorf("renewal identity = %s, want the client cert's", spiffe)
	}
	spiffe, _, err = create(t, context.Background(), renewing, 0)
	if err != nil || spiffe != "spiffe://mesh.example/ns/apps/sa/web" {
		t.Errorf("renewal without token = %s, %v", spiffe, err)
	}

	if got := testutil.ToFloat64(ts.s.metrics.issued.WithLabelValues("ok")); got != 3 {
		t.Errorf("issued{ok} = %v, want 3", got)
	}
	if got := testutil.ToFloat64(ts.s.metrics.issued.WithLabelValues("unauthenticated")); got != 3 {
		t.Errorf("issued{unauthenticated} = %v, want 3", got)
	}
}

// clientCert issues, with the CA's own key, a client certificate for an arbitrary URI: how a
// peer cluster sharing the root, or an older trust domain, would present itself.
func clientCert(t *testing.T, a *Authority, uri string) *tls.Certificate {
	t.Helper()
	_, key := newCSR(t, nil)
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	s := a.cur.Load()
	now := time.Now()
	der, err := s.issue(&x509.Certificate{
		NotBefore:   now.Add(-time.Minute),
		NotAfter:    now.Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		URIs:        []*url.URL{u},
	}, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestServerClientCertIdentity(t *testing.T) {
	t.Parallel()
	ts := startServer(t, ServerOptions{})
	tests := []struct {
		name string
		uri  string
		want string // "" means Unauthenticated
	}{
		{"primary trust domain", "spiffe://mesh.example/ns/apps/sa/web", "spiffe://mesh.example/ns/apps/sa/web"},
		{"alias trust domain maps to primary", "spiffe://old.example/ns/apps/sa/web", "spiffe://mesh.example/ns/apps/sa/web"},
		{"foreign trust domain", "spiffe://evil.example/ns/apps/sa/web", ""},
		{"not a workload ID", "spiffe://mesh.example/admin", ""},
		{"not SPIFFE", "https://mesh.example/ns/apps/sa/web", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := ts.client(t, clientCert(t, ts.a, tt.uri))
			got, _, err := create(t, context.Background(), c, 0)
			if tt.want == "" {
				wantCode(t, err, codes.Unauthenticated, tt.uri)
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("identity = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestServerRateLimit(t *testing.T) {
	t.Parallel()
	web, db := Identity{Namespace: "apps", ServiceAccount: "web"}, Identity{Namespace: "apps", ServiceAccount: "db"}
	ts := startServer(t, ServerOptions{Tokens: staticTokens{"w": web, "d": db}, RateLimit: 0.001, Burst: 2})
	c := ts.client(t, nil)
	for i := range 2 {
		if _, _, err := create(t, withToken("w"), c, 0); err != nil {
			t.Fatalf("call %d within burst: %v", i, err)
		}
	}
	_, _, err := create(t, withToken("w"), c, 0)
	wantCode(t, err, codes.ResourceExhausted, "third call")
	// Limits are per identity.
	if _, _, err := create(t, withToken("d"), c, 0); err != nil {
		t.Fatalf("another identity: %v", err)
	}
	// A config change to the limit applies to the next call; the same limit again keeps the buckets.
	ts.s.SetRateLimit(0.001, 3)
	if _, _, err := create(t, withToken("w"), c, 0); err != nil {
		t.Fatalf("after raising the burst: %v", err)
	}
	ts.s.SetRateLimit(0.001, 3)
	for range 2 {
		_, _, _ = create(t, withToken("w"), c, 0)
	}
	_, _, err = create(t, withToken("w"), c, 0)
	wantCode(t, err, codes.ResourceExhausted, "fourth call under burst 3")
}

func TestServerBadCSR(t *testing.T) {
	t.Parallel()
	ts := startServer(t, ServerOptions{Tokens: staticTokens{"w": {Namespace: "apps", ServiceAccount: "web"}}})
	_, err := ts.client(t, nil).CreateCertificate(withToken("w"), &securityapi.IstioCertificateRequest{Csr: "junk"})
	wantCode(t, err, codes.InvalidArgument, "junk CSR")
}

func TestServingCertificate(t *testing.T) {
	t.Parallel()
	now := time.Now()
	clock := now
	a := mustNew(t, Options{DataDir: t.TempDir(), DefaultTTL: 10 * time.Hour, Now: func() time.Time { return clock }})
	s := NewServer(a, ServerOptions{ServingNames: []string{"ca.example", "10.0.0.1"}})
	first, err := s.serving.get(nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf := first.Leaf
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "ca.example" || len(leaf.IPAddresses) != 1 || !leaf.IPAddresses[0].Equal(net.ParseIP("10.0.0.1")) {
		t.Errorf("SANs = %v %v", leaf.DNSNames, leaf.IPAddresses)
	}
	if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("ExtKeyUsage = %v, want ServerAuth only", leaf.ExtKeyUsage)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: a.Roots(), DNSName: "ca.example", CurrentTime: now}); err != nil {
		t.Fatal(err)
	}
	// Before half its life it is reused; after, renewed. Tests run with a fixed clock: no
	// concurrent handshakes read it.
	clock = now.Add(4 * time.Hour)
	if again, _ := s.serving.get(nil); again != first {
		t.Error("renewed before half its life")
	}
	clock = now.Add(6 * time.Hour)
	if renewed, _ := s.serving.get(nil); renewed == first {
		t.Error("not renewed after half its life")
	}
}

func TestServerRejectsForeignClientCert(t *testing.T) {
	t.Parallel()
	ts := startServer(t, ServerOptions{Tokens: staticTokens{"w": {Namespace: "apps", ServiceAccount: "web"}}})
	// Same SPIFFE ID, but from a CA outside the bundle: the handshake fails, and a token
	// sent alongside cannot rescue it.
	foreign := mustNew(t, Options{DataDir: t.TempDir(), TrustDomain: "mesh.example"})
	c := ts.client(t, clientCert(t, foreign, "spiffe://mesh.example/ns/apps/sa/web"))
	_, _, err := create(t, withToken("w"), c, 0)
	if err == nil {
		t.Fatal("a client cert from a foreign CA was accepted")
	}
}
