package sds

import (
	"bytes"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	clusterservice "github.com/envoyproxy/go-control-plane/envoy/service/cluster/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
)

func TestStreamSecretsPushesRotation(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "root")
	c1, k1 := ca.validLeaf(t, "x.example.com", 1)
	c2, k2 := ca.validLeaf(t, "x.example.com", 2)
	fx := newXDSFixture(t)
	fx.store.ReplaceSource("files", map[string]map[string][]byte{"istio-system/x": tlsSecret(c1, k1, ca.pem)})

	st, err := envoy(t, fx.addr).StreamSecrets(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"kubernetes://x", "kubernetes://x-cacert"}
	if err := st.Send(&discovery.DiscoveryRequest{Node: gatewayNode("istio-system"), ResourceNames: names, TypeUrl: resourcev3.SecretType}); err != nil {
		t.Fatal(err)
	}
	resp, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	got := secretsOf(t, resp.GetResources())
	if len(got) != 2 || leafSerial(t, got["kubernetes://x"]) != "1" {
		t.Fatalf("first response: %v", got)
	}
	if got["kubernetes://x"].GetValidationContext() != nil {
		t.Error("the certificate resource carries a validation context; the CA belongs to -cacert")
	}
	if !bytes.Equal(got["kubernetes://x-cacert"].GetValidationContext().GetTrustedCa().GetInlineBytes(), ca.pem) {
		t.Error("kubernetes://x-cacert is not the CA of Secret x")
	}

	// ACK, then rotate: the server pushes without being asked again.
	if err := st.Send(&discovery.DiscoveryRequest{VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce(), ResourceNames: names, TypeUrl: resourcev3.SecretType}); err != nil {
		t.Fatal(err)
	}
	fx.store.ReplaceSource("files", map[string]map[string][]byte{"istio-system/x": tlsSecret(c2, k2, ca.pem)})
	push, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if got := secretsOf(t, push.GetResources()); leafSerial(t, got["kubernetes://x"]) != "2" {
		t.Fatalf("push did not carry the rotated certificate")
	}
	if push.GetVersionInfo() == resp.GetVersionInfo() || push.GetNonce() == resp.GetNonce() {
		t.Errorf("push reuses version %q / nonce %q", push.GetVersionInfo(), push.GetNonce())
	}
}

func TestStreamSecretsNACK(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "root")
	c1, k1 := ca.validLeaf(t, "x.example.com", 1)
	c2, k2 := ca.validLeaf(t, "x.example.com", 2)
	fx := newXDSFixture(t)
	fx.store.ReplaceSource("files", map[string]map[string][]byte{"istio-system/x": tlsSecret(c1, k1, nil)})

	st, err := envoy(t, fx.addr).StreamSecrets(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"kubernetes://x"}
	if err := st.Send(&discovery.DiscoveryRequest{Node: gatewayNode("istio-system"), ResourceNames: names, TypeUrl: resourcev3.SecretType}); err != nil {
		t.Fatal(err)
	}
	resp, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	// Reject it, keeping no version, as a proxy that cannot use the first response does.
	nack := &discovery.DiscoveryRequest{ResponseNonce: resp.GetNonce(), ResourceNames: names, TypeUrl: resourcev3.SecretType,
		ErrorDetail: &status.Status{Code: int32(codes.InvalidArgument), Message: "proxy says: unusable certificate"}}
	if err := st.Send(nack); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the NACK to be logged", func() bool { return fx.log.count("proxy says: unusable certificate") == 1 })

	// The rejected response is not sent again; the next change is.
	fx.store.ReplaceSource("files", map[string]map[string][]byte{"istio-system/x": tlsSecret(c2, k2, nil)})
	next, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if got := secretsOf(t, next.GetResources()); leafSerial(t, got["kubernetes://x"]) != "2" {
		t.Fatal("after a NACK the server resent the rejected response instead of the next change")
	}
	want := `# HELP gatehouse_xds_nacks_total xDS responses a proxy rejected (NACK), by resource type.
# TYPE gatehouse_xds_nacks_total counter
gatehouse_xds_nacks_total{type="Secret"} 1
`
	if err := testutil.GatherAndCompare(fx.reg, strings.NewReader(want), "gatehouse_xds_nacks_total"); err != nil {
		t.Error(err)
	}
}

func TestDeltaSecrets(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "root")
	c1, k1 := ca.validLeaf(t, "x.example.com", 1)
	c2, k2 := ca.validLeaf(t, "x.example.com", 2)
	c3, k3 := ca.validLeaf(t, "y.example.com", 3)
	fx := newXDSFixture(t)
	fx.store.ReplaceSource("files", map[string]map[string][]byte{"istio-system/x": tlsSecret(c1, k1, nil)})
	client := envoy(t, fx.addr)

	st, err := client.DeltaSecrets(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&discovery.DeltaDiscoveryRequest{Node: gatewayNode("istio-system"), TypeUrl: resourcev3.SecretType,
		ResourceNamesSubscribe: []string{"kubernetes://x", "kubernetes://y"}}); err != nil {
		t.Fatal(err)
	}
	recv := func(what string) *discovery.DeltaDiscoveryResponse {
		t.Helper()
		resp, err := st.Recv()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if err := st.Send(&discovery.DeltaDiscoveryRequest{TypeUrl: resourcev3.SecretType, ResponseNonce: resp.GetNonce()}); err != nil {
			t.Fatal(err)
		}
		return resp
	}

	first := recv("initial")
	got := deltaSecretsOf(t, first)
	if len(got) != 1 || leafSerial(t, got["kubernetes://x"]) != "1" {
		t.Fatalf("initial delta: %v, want only kubernetes://x (y does not exist yet)", got)
	}
	xVersion := first.GetResources()[0].GetVersion()

	fx.store.ReplaceSource("files", map[string]map[string][]byte{"istio-system/x": tlsSecret(c2, k2, nil)})
	if got := deltaSecretsOf(t, recv("rotation")); len(got) != 1 || leafSerial(t, got["kubernetes://x"]) != "2" {
		t.Fatalf("rotation delta: %v", got)
	}

	// Only what changed is sent: adding y leaves x out of the response.
	fx.store.ReplaceSource("files", map[string]map[string][]byte{"istio-system/x": tlsSecret(c2, k2, nil), "istio-system/y": tlsSecret(c3, k3, nil)})
	if got := deltaSecretsOf(t, recv("y added")); len(got) != 1 || got["kubernetes://y"] == nil {
		t.Fatalf("y added: %v", got)
	}

	fx.store.ReplaceSource("files", map[string]map[string][]byte{"istio-system/y": tlsSecret(c3, k3, nil)})
	if removed := recv("x removed").GetRemovedResources(); len(removed) != 1 || removed[0] != "kubernetes://x" {
		t.Fatalf("removed %v, want kubernetes://x", removed)
	}

	// A reconnecting proxy names the versions it has; it gets only what differs.
	fx.store.ReplaceSource("files", map[string]map[string][]byte{"istio-system/x": tlsSecret(c1, k1, nil), "istio-system/y": tlsSecret(c3, k3, nil)})
	st2, err := client.DeltaSecrets(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := st2.Send(&discovery.DeltaDiscoveryRequest{Node: gatewayNode("istio-system"), TypeUrl: resourcev3.SecretType,
		ResourceNamesSubscribe:  []string{"kubernetes://x", "kubernetes://y"},
		InitialResourceVersions: map[string]string{"kubernetes://x": xVersion}}); err != nil {
		t.Fatal(err)
	}
	resp, err := st2.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if got := deltaSecretsOf(t, resp); len(got) != 1 || got["kubernetes://y"] == nil {
		t.Fatalf("reconnect with x at its current version got %v, want only y", got)
	}
}

func TestFetchSecrets(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "root")
	cert, key := ca.validLeaf(t, "x.example.com", 1)
	crl := ca.crl(t, 7)
	fx := newXDSFixture(t)
	fx.store.ReplaceSource("files", map[string]map[string][]byte{
		"istio-system/x":    tlsSecret(cert, key, ca.pem),
		"team-a/x":          {"ca.crt": ca.pem, "ca.crl": crl},
		"file-cert:/c~/k":   tlsSecret(cert, key, nil),
		"file-root:/ca.pem": {"ca.crt": ca.pem},
	})
	client := envoy(t, fx.addr)
	teamA := &core.Node{Id: "gatehouse", Metadata: &structpb.Struct{Fields: map[string]*structpb.Value{"NAMESPACE": structpb.NewStringValue("team-a")}}}
	tests := []struct {
		name      string
		node      *core.Node
		resources []string
		certs     []string // names served as TlsCertificate
		roots     []string // names served as ValidationContext
		crl       bool
	}{
		{name: "gateway namespace from the node id", node: gatewayNode("istio-system"),
			resources: []string{"kubernetes://x", "kubernetes://x-cacert", "kubernetes://nope"},
			certs:     []string{"kubernetes://x"}, roots: []string{"kubernetes://x-cacert"}},
		{name: "namespace from node metadata; trust-only with CRL", node: teamA,
			resources: []string{"kubernetes://x"}, roots: []string{"kubernetes://x"}, crl: true},
		{name: "no namespace: the server's default", node: &core.Node{Id: "bare"},
			resources: []string{"kubernetes://x"}, certs: []string{"kubernetes://x"}},
		{name: "files", node: teamA,
			resources: []string{"file-cert:/c~/k", "file-root:/ca.pem", "file-root:/missing.pem"},
			certs:     []string{"file-cert:/c~/k"}, roots: []string{"file-root:/ca.pem"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := client.FetchSecrets(testCtx(t), &discovery.DiscoveryRequest{Node: tt.node, ResourceNames: tt.resources})
			if err != nil {
				t.Fatal(err)
			}
			got := secretsOf(t, resp.GetResources())
			if len(got) != len(tt.certs)+len(tt.roots) {
				t.Errorf("got %d secrets, want %d", len(got), len(tt.certs)+len(tt.roots))
			}
			for _, n := range tt.certs {
				if got[n].GetTlsCertificate() == nil {
					t.Errorf("%s: no tls_certificate", n)
				}
			}
			for _, n := range tt.roots {
				vc := got[n].GetValidationContext()
				if vc == nil || !bytes.Equal(vc.GetTrustedCa().GetInlineBytes(), ca.pem) || (vc.GetCrl() != nil) != tt.crl {
					t.Errorf("%s: validation context %v", n, vc)
				}
			}
		})
	}

	t.Run("wildcard is refused", func(t *testing.T) {
		t.Parallel()
		for _, names := range [][]string{nil, {"*"}} {
			_, err := client.FetchSecrets(testCtx(t), &discovery.DiscoveryRequest{Node: teamA, ResourceNames: names})
			if grpcstatus.Code(err) != codes.InvalidArgument {
				t.Errorf("names %v: err %v, want InvalidArgument", names, err)
			}
		}
	})
}

func TestUnknownNameWaitsThenAppears(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "root")
	cert, key := ca.validLeaf(t, "later.example.com", 5)
	fx := newXDSFixture(t)
	client := envoy(t, fx.addr)

	// Two proxies ask for a name that does not exist: the operator is told once.
	var streams []grpc.BidiStreamingClient[discovery.DiscoveryRequest, discovery.DiscoveryResponse]
	for range 2 {
		st, err := client.StreamSecrets(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Send(&discovery.DiscoveryRequest{Node: gatewayNode("istio-system"), ResourceNames: []string{"kubernetes://later"}}); err != nil {
			t.Fatal(err)
		}
		streams = append(streams, st)
	}
	waitFor(t, "both watches", func() bool { return fx.watches() == 2 })
	fx.store.ReplaceSource("other", map[string]map[string][]byte{"istio-system/unrelated": {"ca.crt": ca.pem}})
	if n := fx.log.count("SDS resource not found"); n != 1 {
		t.Errorf("not-found logged %d times, want once", n)
	}

	fx.store.ReplaceSource("files", map[string]map[string][]byte{"istio-system/later": tlsSecret(cert, key, nil)})
	for _, st := range streams {
		resp, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if got := secretsOf(t, resp.GetResources()); leafSerial(t, got["kubernetes://later"]) != "5" {
			t.Fatalf("got %v", got)
		}
	}
}

func TestADSSecrets(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "root")
	cert, key := ca.validLeaf(t, "x.example.com", 1)
	fx := newXDSFixture(t)
	fx.store.ReplaceSource("files", map[string]map[string][]byte{"istio-system/x": tlsSecret(cert, key, nil)})
	conn, err := grpc.NewClient(fx.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	st, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	// A type nothing serves yet is held, not refused: the stream keeps serving Secrets.
	if err := st.Send(&discovery.DiscoveryRequest{Node: gatewayNode("istio-system"), TypeUrl: resourcev3.ListenerType}); err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&discovery.DiscoveryRequest{TypeUrl: resourcev3.SecretType, ResourceNames: []string{"kubernetes://x"}}); err != nil {
		t.Fatal(err)
	}
	resp, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetTypeUrl() != resourcev3.SecretType || leafSerial(t, secretsOf(t, resp.GetResources())["kubernetes://x"]) != "1" {
		t.Fatalf("ADS response %s", resp.GetTypeUrl())
	}
}

func TestServerServesOtherTypesOnTheSameStreams(t *testing.T) {
	t.Parallel()
	clusters := cachev3.NewLinearCache(resourcev3.ClusterType, cachev3.WithInitialResources(map[string]types.Resource{
		"outbound|443||reviews.default.svc.cluster.local": &clusterv3.Cluster{Name: "outbound|443||reviews.default.svc.cluster.local"},
	}))
	srv := NewServer(NewStore(StoreOptions{}), ServerOptions{Caches: map[string]cachev3.Cache{resourcev3.ClusterType: clusters}})
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	srv.Register(g)
	go func() { _ = g.Serve(ln) }()
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })

	// The per-type service is registered because a cache serves the type.
	st, err := clusterservice.NewClusterDiscoveryServiceClient(conn).StreamClusters(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&discovery.DiscoveryRequest{Node: gatewayNode("default")}); err != nil {
		t.Fatal(err)
	}
	resp, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetTypeUrl() != resourcev3.ClusterType || len(resp.GetResources()) != 1 {
		t.Fatalf("CDS response %s with %d resources", resp.GetTypeUrl(), len(resp.GetResources()))
	}
}

func TestWildcardListsNoSecrets(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "root")
	cert, key := ca.validLeaf(t, "x.example.com", 1)
	fx := newXDSFixture(t)
	fx.store.ReplaceSource("files", map[string]map[string][]byte{
		"istio-system/x": tlsSecret(cert, key, nil), "istio-system/y": tlsSecret(cert, key, nil),
	})
	st, err := envoy(t, fx.addr).StreamSecrets(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	// An empty request (legacy wildcard) and an explicit "*" get nothing; a named request then
	// gets exactly its name.
	for _, names := range [][]string{nil, {"*"}, {"kubernetes://x"}} {
		if err := st.Send(&discovery.DiscoveryRequest{Node: gatewayNode("istio-system"), ResourceNames: names}); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if got := secretsOf(t, resp.GetResources()); len(got) != 1 || got["kubernetes://x"] == nil {
		t.Fatalf("got %d secrets, want only kubernetes://x", len(got))
	}
	if fx.log.count("wildcard Secret subscription ignored") == 0 {
		t.Error("the wildcard subscription was not reported")
	}
}
