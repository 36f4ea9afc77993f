package workload

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/gatehouse-dev/gatehouse/ca"
	"github.com/gatehouse-dev/gatehouse/sds"
)

var webID = ca.Identity{TrustDomain: "cluster.local", Namespace: "apps", ServiceAccount: "web"}

func newAuthority(t *testing.T) *ca.Authority {
	t.Helper()
	a, err := ca.New(ca.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// checkIssued asserts the store holds a certificate for id under the authority's roots.
func checkIssued(t *testing.T, store *sds.Store, a *ca.Authority, id ca.Identity) *sds.Credential {
	t.Helper()
	cred, ok := store.Get("default")
	if !ok {
		t.Fatal("no default credential")
	}
	leaf := cred.Certificate.Leaf
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != id.SPIFFE() {
		t.Errorf("leaf URIs %v, want exactly %s", leaf.URIs, id.SPIFFE())
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: a.Roots(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("leaf does not verify under the authority's roots: %v", err)
	}
	root, ok := store.Get("ROOTCA")
	if !ok || len(root.RootCerts) == 0 || string(root.RootsPEM) == "" {
		t.Fatal("no ROOTCA trust bundle")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: root.Roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("leaf does not verify under ROOTCA: %v", err)
	}
	return cred
}

func TestLocalAuthority(t *testing.T) {
	t.Parallel()
	a := newAuthority(t)
	store := sds.NewStore(sds.StoreOptions{})
	m := New(Options{Store: store, Signer: Local(a, webID), TTL: time.Hour})
	runManager(t, m)
	waitFor(t, "the first certificate", func() bool { return serial(store) != "" })
	cred := checkIssued(t, store, a, webID)
	root, _ := store.Get("ROOTCA")
	if want, _, _ := sds.ParsePEM(nil, nil, a.RootsPEM(), nil, time.Now()); want == nil || len(root.RootCerts) != len(want.RootCerts) {
		t.Errorf("ROOTCA holds %d roots, want the authority's bundle", len(root.RootCerts))
	}
	if life := time.Until(cred.Certificate.Leaf.NotAfter); life > time.Hour {
		t.Errorf("leaf lives %v more, asked for 1h", life)
	}
}

// oneTimeToken is a TokenRedeemer whose token works once, as a maxUses: 1 BootstrapToken.
type oneTimeToken struct {
	mu     sync.Mutex
	token  string
	id     ca.Identity
	calls  int
	redeem int
}

func (o *oneTimeToken) Redeem(_ context.Context, token string) (ca.Identity, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls++
	if token != o.token || o.redeem > 0 {
		return ca.Identity{}, errors.New("unknown or used token")
	}
	o.redeem++
	return o.id, nil
}

func (o *oneTimeToken) counts() (calls, redeemed int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.calls, o.redeem
}

// serveCA runs the CA's IstioCertificateService on a loopback TLS listener.
func serveCA(t *testing.T, a *ca.Authority, tokens ca.TokenRedeemer) string {
	t.Helper()
	s := ca.NewServer(a, ca.ServerOptions{Tokens: tokens})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(s.TLSConfig())))
	s.Register(gs)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = gs.Serve(lis)
	}()
	t.Cleanup(func() {
		gs.Stop()
		<-done
	})
	return lis.Addr().String()
}

// TestRemoteAuthority: the first certificate comes with the one-time token, every renewal
// after it with the certificate in force as the client certificate and no token.
func TestRemoteAuthority(t *testing.T) {
	t.Parallel()
	a := newAuthority(t)
	tokens := &oneTimeToken{token: "bootstrap-token-0123456789", id: webID}
	addr := serveCA(t, a, tokens)
	store := sds.NewStore(sds.StoreOptions{})
	var m *Manager
	var tokenAsked sync.Mutex
	asked := 0
	signer := Remote(addr, RemoteOptions{
		Roots: a.Roots(), ServerName: "localhost",
		Token: func() string {
			tokenAsked.Lock()
			defer tokenAsked.Unlock()
			asked++
			return tokens.token
		},
		Current: func() *tls.Certificate { return m.Current() },
	})
	m = New(Options{Store: store, Signer: signer, TTL: 2 * time.Second, MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	runManager(t, m)
	waitFor(t, "the first certificate", func() bool { return serial(store) != "" })
	first := checkIssued(t, store, a, webID)
	waitFor(t, "a renewal", func() bool { return serial(store) != first.Serial() })
	second := checkIssued(t, store, a, webID)
	waitFor(t, "a second renewal", func() bool { return serial(store) != second.Serial() })
	checkIssued(t, store, a, webID)
	calls, redeemed := tokens.counts()
	tokenAsked.Lock()
	defer tokenAsked.Unlock()
	if calls != 1 || redeemed != 1 || asked != 1 {
		t.Errorf("token redeemed %d of %d calls, Token() asked %d times; want the first call only", redeemed, calls, asked)
	}
}

// TestRemoteRefusals: without a token or a certificate the CA refuses; a CA whose serving
// certificate the roots do not trust is refused by the client.
func TestRemoteRefusals(t *testing.T) {
	t.Parallel()
	a := newAuthority(t)
	addr := serveCA(t, a, &oneTimeToken{token: "bootstrap-token-0123456789", id: webID})
	_, csr, err := newKey("")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	_, err = Remote(addr, RemoteOptions{Roots: a.Roots()}).CreateCertificate(ctx, csr, time.Hour)
	if status.Code(errors.Unwrap(err)) != codes.Unauthenticated {
		t.Errorf("no credentials: %v, want Unauthenticated", err)
	}
	_, err = Remote(addr, RemoteOptions{Roots: a.Roots(), Token: func() string { return "wrong-token-0123456789" }}).CreateCertificate(ctx, csr, time.Hour)
	if status.Code(errors.Unwrap(err)) != codes.Unauthenticated {
		t.Errorf("wrong token: %v, want Unauthenticated", err)
	}
	other := newAuthority(t)
	_, err = Remote(addr, RemoteOptions{Roots: other.Roots(), Token: func() string { return "bootstrap-token-0123456789" }}).CreateCertificate(ctx, csr, time.Hour)
	if status.Code(errors.Unwrap(err)) != codes.Unavailable {
		t.Errorf("untrusted CA: %v, want Unavailable (TLS handshake refused)", err)
	}
	if _, err := Remote(addr, RemoteOptions{}).CreateCertificate(ctx, csr, time.Hour); err == nil {
		t.Error("a Remote signer without roots dialled")
	}
}

// TestRemoteExpiredCertificateFallsBackToToken: a certificate that lapsed (an outage longer
// than its life) is not presented; the token is.
func TestRemoteExpiredCertificateFallsBackToToken(t *testing.T) {
	t.Parallel()
	tca := newTestCA(t)
	now := time.Now()
	valid := tca.leafCert(t, time.Hour)
	tests := []struct {
		name string
		cur  *tls.Certificate
		at   time.Time
		want bool
	}{
		{"valid: renew with it", valid, now, true},
		{"expired: token", valid, now.Add(2 * time.Hour), false},
		{"none: token", nil, now, false},
		{"no Leaf: token", &tls.Certificate{Certificate: valid.Certificate}, now, false},
	}
	for _, tt := range tests {
		r := Remote("x", RemoteOptions{Current: func() *tls.Certificate { return tt.cur }, Now: func() time.Time { return tt.at }}).(*remoteSigner)
		if got := r.renewWith() != nil; got != tt.want {
			t.Errorf("%s: presents a certificate = %v, want %v", tt.name, got, tt.want)
		}
	}
}
