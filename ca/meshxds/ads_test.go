package meshxds

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse-dev/gatehouse/sds"
)

// goldenResource returns one resource of a golden file, normalized for comparison.
func goldenResource(t *testing.T, name, key string, i int) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name + ".golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string][]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	out, err := normalizeJSON(doc[key][i])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// envoyNode is the node an Envoy sidecar started by istio-agent sends for web-1.
func envoyNode(t *testing.T) *core.Node {
	t.Helper()
	meta, err := structpb.NewStruct(map[string]any{
		"NAMESPACE": "apps", "SERVICE_ACCOUNT": "web", "LABELS": map[string]any{"app": "web"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &core.Node{Id: webProxy.ID, Cluster: "web.apps", Metadata: meta}
}

// TestADSPushesModeChange plays an Envoy sidecar against the real xDS server (sds.Server with
// this package's Cache plugged in): it subscribes to Listeners and Clusters over ADS, gets the
// golden PERMISSIVE resources, and after the namespace turns STRICT gets the new Listener
// pushed on the open stream, without its plaintext chains.
func TestADSPushesModeChange(t *testing.T) {
	t.Parallel()
	cache := NewCache(nil)
	cache.Apply(loadSnapshot(t, "testdata/permissive.in.yaml"))
	srv := sds.NewServer(sds.NewStore(sds.StoreOptions{}), sds.ServerOptions{Caches: cache.Caches()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
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
	// The deadline only keeps a broken server from hanging the test run.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	st, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	send := func(r *discovery.DiscoveryRequest) {
		t.Helper()
		if err := st.Send(r); err != nil {
			t.Fatal(err)
		}
	}
	// Envoy sends its node on the first request only (set_node_on_first_message_only).
	send(&discovery.DiscoveryRequest{Node: envoyNode(t), TypeUrl: resourcev3.ClusterType})
	send(&discovery.DiscoveryRequest{TypeUrl: resourcev3.ListenerType})

	got := map[string]*discovery.DiscoveryResponse{}
	for len(got) < 2 {
		resp, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		got[resp.GetTypeUrl()] = resp
		// ACK, as Envoy does, so the server may push the next version.
		send(&discovery.DiscoveryRequest{TypeUrl: resp.GetTypeUrl(), VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce()})
	}
	if l := got[resourcev3.ListenerType].GetResources(); len(l) != 1 {
		t.Fatalf("LDS: %d listeners, want 1", len(l))
	}
	assertGolden(t, got[resourcev3.ListenerType].GetResources()[0].GetValue(), &listenerv3.Listener{}, goldenResource(t, "permissive", "listeners", 0))
	if c := got[resourcev3.ClusterType].GetResources(); len(c) != 2 {
		t.Fatalf("CDS: %d clusters, want 2", len(c))
	}

	cache.Apply(loadSnapshot(t, "testdata/strict.in.yaml"))
	resp, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	// The clusters did not change, so only the Listener is pushed.
	if resp.GetTypeUrl() != resourcev3.ListenerType || len(resp.GetResources()) != 1 {
		t.Fatalf("push: %s with %d resources, want one Listener", resp.GetTypeUrl(), len(resp.GetResources()))
	}
	var l listenerv3.Listener
	if err := proto.Unmarshal(resp.GetResources()[0].GetValue(), &l); err != nil {
		t.Fatal(err)
	}
	for _, fc := range l.GetFilterChains() {
		if fc.GetFilterChainMatch().GetTransportProtocol() != "tls" || fc.GetTransportSocket() == nil {
			t.Errorf("STRICT listener still has chain %s matching %v without mTLS", fc.GetName(), fc.GetFilterChainMatch())
		}
	}
	assertGolden(t, resp.GetResources()[0].GetValue(), &listenerv3.Listener{}, goldenResource(t, "strict", "listeners", 0))
}

// assertGolden decodes wire bytes into m and compares its JSON with want.
func assertGolden(t *testing.T, wire []byte, m proto.Message, want []byte) {
	t.Helper()
	if err := proto.Unmarshal(wire, m); err != nil {
		t.Fatal(err)
	}
	if got := mustJSON(t, m); !bytes.Equal(got, want) {
		t.Errorf("served resource differs from the golden file\ngot:\n%s\nwant:\n%s", got, want)
	}
}
