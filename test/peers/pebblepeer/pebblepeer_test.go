package pebblepeer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/gatehouse-dev/gatehouse/test/peers/loopback"
)

// TestIssueOverHTTP01 orders a certificate from a started Pebble as the gateway will: account,
// order, http-01 answered on Options.HTTPPort, finalize. It checks the chain against Roots, the
// lifetime knob and that Orders counts the order.
func TestIssueOverHTTP01(t *testing.T) {
	t.Parallel()
	SkipIfMissing(t)

	// The http-01 responder stands in for the gateway's port 80.
	var answers sync.Map // token -> key authorization
	var served atomic.Int32
	httpPort := loopback.FreePort(t)
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", httpPort))
	if err != nil {
		t.Fatal(err)
	}
	responder := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer, ok := answers.Load(strings.TrimPrefix(r.URL.Path, "/.well-known/acme-challenge/"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		served.Add(1)
		fmt.Fprint(w, answer)
	}))
	responder.Listener.Close()
	responder.Listener = ln
	responder.Start()
	t.Cleanup(responder.Close)

	const lifetime = time.Hour
	// Names resolve to 127.0.0.2 where nothing answers, but for the one AddA sends to the
	// responder: validation succeeding proves both DNS knobs.
	peer := Start(t, Options{HTTPPort: httpPort, CertificateLifetime: lifetime, DefaultIPv4: "127.0.0.2"})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	accountKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	client := &acme.Client{
		Key:          accountKey,
		DirectoryURL: peer.Directory,
		HTTPClient:   &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: peer.DirectoryCA}}},
	}
	if _, err := client.Register(ctx, &acme.Account{}, acme.AcceptTOS); err != nil {
		t.Fatalf("register: %v", err)
	}

	const name = "www.pebble-test.example"
	peer.AddA(t, name, "127.0.0.1")
	before := peer.Orders(t)
	order, err := client.AuthorizeOrder(ctx, acme.DomainIDs(name))
	if err != nil {
		t.Fatalf("new order: %v", err)
	}
	if got := peer.Orders(t); got != before+1 {
		t.Errorf("Orders = %d after one new order, want %d", got, before+1)
	}
	for _, u := range order.AuthzURLs {
		authz, err := client.GetAuthorization(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if authz.Status == acme.StatusValid {
			t.Fatalf("authorization for %s is already valid: Pebble reused one despite AuthzReusePercent 0", authz.Identifier.Value)
		}
		var chal *acme.Challenge
		for _, c := range authz.Challenges {
			if c.Type == "http-01" {
				chal = c
			}
		}
		if chal == nil {
			t.Fatalf("no http-01 challenge for %s", authz.Identifier.Value)
		}
		answer, err := client.HTTP01ChallengeResponse(chal.Token)
		if err != nil {
			t.Fatal(err)
		}
		answers.Store(chal.Token, answer)
		if _, err := client.Accept(ctx, chal); err != nil {
			t.Fatalf("accept: %v", err)
		}
		if _, err := client.WaitAuthorization(ctx, authz.URI); err != nil {
			t.Fatalf("authorization for %s: %v", authz.Identifier.Value, err)
		}
	}
	if served.Load() == 0 {
		t.Error("Pebble validated without fetching the http-01 answer from HTTPPort")
	}
	if order, err = client.WaitOrder(ctx, order.URI); err != nil {
		t.Fatalf("order: %v", err)
	}

	certKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{name}}, certKey)
	if err != nil {
		t.Fatal(err)
	}
	// CreateCertFromOrder, not CreateOrderCert: Pebble answers finalize with "processing" and no
	// Location, so only the order URL we already hold lets the client wait for issuance.
	chain, _, err := client.CreateCertFromOrder(ctx, order, csr, true)
	if err != nil {
		t.Fatalf("finalize: %v", err)
	}
	certs := make([]*x509.Certificate, len(chain))
	for i, der := range chain {
		if certs[i], err = x509.ParseCertificate(der); err != nil {
			t.Fatal(err)
		}
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(peer.Roots(t)) {
		t.Fatal("Roots: no certificate in the PEM")
	}
	intermediates := x509.NewCertPool()
	for _, c := range certs[1:] {
		intermediates.AddCert(c)
	}
	leaf := certs[0]
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: intermediates}); err != nil {
		t.Errorf("issued chain does not verify against Roots: %v", err)
	}
	// Pebble's NotAfter is one second short of NotBefore plus the validity period.
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got != lifetime-time.Second {
		t.Errorf("certificate lifetime = %v, want %v", got, lifetime-time.Second)
	}
	if got := peer.Orders(t); got != before+1 {
		t.Errorf("Orders = %d after issuing, want %d", got, before+1)
	}
}

func TestOrdersIn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, log string
		want      int
	}{
		{"no order yet", "Pebble 2025/01/01 00:00:00 Starting Pebble ACME server\n", 0},
		{"one", "Pebble 2025/01/01 00:00:01 Added order \"x\" to the db\nPebble 2025/01/01 00:00:01 There are now 1 orders in the db\n", 1},
		{"last line wins", "There are now 1 orders in the db\nThere are now 2 orders in the db\nThere are now 12 orders in the db\n", 12},
		{"accounts are not orders", "There are now 3 accounts in memory\nThere are now 2 orders in the db\n", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ordersIn(tc.log)
			if err != nil || got != tc.want {
				t.Errorf("ordersIn = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}
