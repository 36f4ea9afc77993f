package sds

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretservice "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/anypb"
)

func startClient(t *testing.T, target, ns string, want []string) (*Client, *Store) {
	t.Helper()
	local := NewStore(StoreOptions{})
	cl := NewClient(target, local, ClientOptions{Namespace: ns, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	cl.Want(want)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cl.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return cl, local
}

func serialOf(s *Store, name string) string {
	if c, ok := s.Get(name); ok {
		return c.Serial()
	}
	return ""
}

func TestClientAgainstServer(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "root")
	c1, k1 := ca.validLeaf(t, "x.example.com", 1)
	c2, k2 := ca.validLeaf(t, "x.example.com", 2)
	c3, k3 := ca.validLeaf(t, "x.example.com", 3)
	cy, ky := ca.validLeaf(t, "y.example.com", 0x10)
	socket := "unix://" + filepath.Join(t.TempDir(), "sds.sock")
	fx := &xdsFixture{store: NewStore(StoreOptions{}), log: &xdsLog{}}
	_, stop := fx.serve(t, socket, nil)
	t.Cleanup(func() { stop() })
	fx.store.ReplaceSource("files", map[string]map[string][]byte{
		"istio-system/x": tlsSecret(c1, k1, ca.pem),
		"istio-system/y": tlsSecret(cy, ky, nil),
	})

	cl, local := startClient(t, socket, "istio-system", []string{"kubernetes://x", "kubernetes://x-cacert"})
	waitFor(t, "x and its CA", func() bool {
		roots, ok := local.Resolve("istio-system", "kubernetes://x-cacert")
		return serialOf(local, "istio-system/x") == "1" && ok && roots.Roots != nil
	})

	fx.store.ReplaceSource("files", map[string]map[string][]byte{
		"istio-system/x": tlsSecret(c2, k2, ca.pem),
		"istio-system/y": tlsSecret(cy, ky, nil),
	})
	waitFor(t, "the rotation", func() bool { return serialOf(local, "istio-system/x") == "2" })

	// A name no longer wanted leaves the local Store at once; a new one arrives.
	cl.Want([]string{"kubernetes://x", "kubernetes://y"})
	if _, ok := local.Get("istio-system/x-cacert"); ok {
		t.Error("x-cacert still in the Store after it stopped being wanted")
	}
	waitFor(t, "y", func() bool { return serialOf(local, "istio-system/y") == "10" })

	// While the server is down the last credentials keep serving; a restarted server is found
	// again and its state applied.
	stop()
	fx.store.ReplaceSource("files", map[string]map[string][]byte{
		"istio-system/x": tlsSecret(c3, k3, ca.pem),
		"istio-system/y": tlsSecret(cy, ky, nil),
	})
	if got := serialOf(local, "istio-system/x"); got != "2" {
		t.Fatalf("serial %q while the server is down, want the last received", got)
	}
	_, stop2 := fx.serve(t, socket, nil)
	t.Cleanup(stop2)
	waitFor(t, "the rotation after a server restart", func() bool { return serialOf(local, "istio-system/x") == "3" })
}

// scriptedSDS is an SDS server that plays fixed responses and hands the test every request.
type scriptedSDS struct {
	secretservice.UnimplementedSecretDiscoveryServiceServer
	responses []*discovery.DiscoveryResponse
	requests  chan *discovery.DiscoveryRequest
}

func (s *scriptedSDS) StreamSecrets(st grpc.BidiStreamingServer[discovery.DiscoveryRequest, discovery.DiscoveryResponse]) error {
	for i := 0; ; i++ {
		req, err := st.Recv()
		if err != nil {
			return err
		}
		s.requests <- req
		if i < len(s.responses) {
			if err := st.Send(s.responses[i]); err != nil {
				return err
			}
		}
	}
}

func secretResponse(t *testing.T, version, nonce string, secrets ...*tlsv3.Secret) *discovery.DiscoveryResponse {
	t.Helper()
	resp := &discovery.DiscoveryResponse{VersionInfo: version, Nonce: nonce, TypeUrl: resourcev3.SecretType}
	for _, s := range secrets {
		a, err := anypb.New(s)
		if err != nil {
			t.Fatal(err)
		}
		resp.Resources = append(resp.Resources, a)
	}
	return resp
}

func certSecret(name string, chain, key []byte) *tlsv3.Secret {
	return &tlsv3.Secret{Name: name, Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
		CertificateChain: inlineBytes(chain), PrivateKey: inlineBytes(key)}}}
}

func TestClientACKAndNACK(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "root")
	c1, k1 := ca.validLeaf(t, "x.example.com", 1)
	_, k2 := ca.validLeaf(t, "x.example.com", 2)
	fake := &scriptedSDS{requests: make(chan *discovery.DiscoveryRequest, 10), responses: []*discovery.DiscoveryResponse{
		secretResponse(t, "v1", "n1", certSecret("kubernetes://x", c1, k1), certSecret("kubernetes://unasked", c1, k1)),
		secretResponse(t, "v2", "n2", certSecret("kubernetes://x", c1, k2)), // key does not match
	}}
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	secretservice.RegisterSecretDiscoveryServiceServer(g, fake)
	go func() { _ = g.Serve(ln) }()
	t.Cleanup(g.Stop)

	_, local := startClient(t, ln.Addr().String(), "team-a", []string{"kubernetes://x"})
	next := func() *discovery.DiscoveryRequest {
		t.Helper()
		select {
		case r := <-fake.requests:
			return r
		case <-testCtx(t).Done():
			t.Fatal("no request from the client")
			return nil
		}
	}

	first := next()
	if NodeNamespace(first.GetNode(), "") != "team-a" || strings.Join(first.GetResourceNames(), ",") != "kubernetes://x" || first.GetTypeUrl() != resourcev3.SecretType {
		t.Fatalf("first request: node %v names %v", first.GetNode(), first.GetResourceNames())
	}
	ack := next()
	if ack.GetVersionInfo() != "v1" || ack.GetResponseNonce() != "n1" || ack.GetErrorDetail() != nil {
		t.Fatalf("ACK = version %q nonce %q error %v", ack.GetVersionInfo(), ack.GetResponseNonce(), ack.GetErrorDetail())
	}
	if serialOf(local, "team-a/x") != "1" {
		t.Fatal("the accepted secret is not in the Store under namespace/name")
	}
	if _, ok := local.Get("team-a/unasked"); ok {
		t.Error("a secret the client did not ask for was stored")
	}
	nack := next()
	if nack.GetVersionInfo() != "v1" || nack.GetResponseNonce() != "n2" || !strings.Contains(nack.GetErrorDetail().GetMessage(), "kubernetes://x: tls.key: private key does not match") {
		t.Fatalf("NACK = version %q nonce %q error %v", nack.GetVersionInfo(), nack.GetResponseNonce(), nack.GetErrorDetail())
	}
	if strings.Contains(nack.GetErrorDetail().GetMessage(), "PRIVATE KEY") {
		t.Error("the NACK quotes key material")
	}
	if serialOf(local, "team-a/x") != "1" {
		t.Error("a rejected response replaced the last good credential")
	}
}

func TestReceivedSecrets(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "root")
	cert, key := ca.validLeaf(t, "x.example.com", 1)
	wanted := map[string]bool{"a": true, "b": true}
	tests := []struct {
		name    string
		resp    *discovery.DiscoveryResponse
		err     string
		records map[string][]string // name -> data keys
	}{
		{name: "certificate and validation context",
			resp: secretResponse(t, "1", "n", certSecret("a", cert, key), &tlsv3.Secret{Name: "b", Type: &tlsv3.Secret_ValidationContext{
				ValidationContext: &tlsv3.CertificateValidationContext{TrustedCa: inlineBytes(ca.pem), Crl: inlineBytes(ca.crl(t, 2))}}}),
			records: map[string][]string{"a": {"tls.crt", "tls.key"}, "b": {"ca.crl", "ca.crt"}}},
		{name: "unasked names are ignored", resp: secretResponse(t, "1", "n", certSecret("c", []byte("junk"), key)), records: map[string][]string{}},
		{name: "inline string", resp: secretResponse(t, "1", "n", &tlsv3.Secret{Name: "a", Type: &tlsv3.Secret_ValidationContext{
			ValidationContext: &tlsv3.CertificateValidationContext{TrustedCa: &core.DataSource{Specifier: &core.DataSource_InlineString{InlineString: string(ca.pem)}}}}}),
			records: map[string][]string{"a": {"ca.crt"}}},
		{name: "wrong response type", resp: &discovery.DiscoveryResponse{TypeUrl: resourcev3.ClusterType}, err: "response type"},
		{name: "unparsable certificate", resp: secretResponse(t, "1", "n", certSecret("a", []byte("junk"), key)), err: "secret a: tls.crt: no PEM certificate found"},
		{name: "file on the server's side", resp: secretResponse(t, "1", "n", &tlsv3.Secret{Name: "a", Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
			CertificateChain: &core.DataSource{Specifier: &core.DataSource_Filename{Filename: "/etc/cert.pem"}}, PrivateKey: inlineBytes(key)}}}),
			err: "certificate_chain: only inline data"},
		{name: "no key", resp: secretResponse(t, "1", "n", &tlsv3.Secret{Name: "a", Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
			CertificateChain: inlineBytes(cert)}}}), err: "private_key: missing"},
		{name: "generic secret", resp: secretResponse(t, "1", "n", &tlsv3.Secret{Name: "a", Type: &tlsv3.Secret_GenericSecret{GenericSecret: &tlsv3.GenericSecret{}}}),
			err: "neither tls_certificate nor validation_context"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := receivedSecrets(tt.resp, wanted, time.Now())
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.records) {
				t.Fatalf("got %d secrets, want %d", len(got), len(tt.records))
			}
			for name, keys := range tt.records {
				if have := slices.Sorted(maps.Keys(got[name])); !slices.Equal(have, keys) {
					t.Errorf("%s: keys %v, want %v", name, have, keys)
				}
			}
		})
	}
}

func TestClientSynced(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "root")
	cert, key := ca.validLeaf(t, "x.example.com", 1)
	now := time.Unix(1_000_000, 0)
	cl := NewClient("127.0.0.1:1", NewStore(StoreOptions{}), ClientOptions{Namespace: "ns", Now: func() time.Time { return now }})
	if !cl.Synced() {
		t.Error("nothing wanted: not synced")
	}
	cl.Want([]string{"kubernetes://x", "kubernetes://y"})
	if cl.Synced() {
		t.Error("synced before anything arrived")
	}
	if detail := cl.apply(secretResponse(t, "1", "n", certSecret("kubernetes://x", cert, key)), map[string]bool{"kubernetes://x": true, "kubernetes://y": true}); detail != nil {
		t.Fatal(detail)
	}
	if cl.Synced() {
		t.Error("synced while y has neither arrived nor timed out")
	}
	now = now.Add(15 * time.Second)
	if !cl.Synced() {
		t.Error("not synced after y's initial fetch timeout")
	}
	// A name wanted later gets its own timeout.
	cl.Want([]string{"kubernetes://x", "kubernetes://y", "kubernetes://z"})
	if cl.Synced() {
		t.Error("synced with z just wanted")
	}
	cl.Want([]string{"kubernetes://x"})
	if !cl.Synced() {
		t.Error("not synced with only the received x wanted")
	}
}
