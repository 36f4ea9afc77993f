package meshmode

import (
	"context"
	"net"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gatehouse-dev/gatehouse/ca/meshxds"
	"github.com/gatehouse-dev/gatehouse/ca/posture"
)

// TestClient: the client announces the sidecar's node, reads the mode of the snapshot the
// server holds for it, and gets each mode change pushed on the same stream.
func TestClient(t *testing.T) {
	t.Parallel()
	node, err := Node(Workload{Name: "app", Namespace: "apps", ServiceAccount: "app", Labels: map[string]string{"app": "web"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := meshxds.ProxyFromNode(node)
	if err != nil {
		t.Fatalf("the node is not a sidecar meshxds knows: %v", err)
	}
	if p.Namespace != "apps" || p.ServiceAccount != "app" || p.Labels["app"] != "web" {
		t.Fatalf("node read back as %+v", p)
	}
	cache := cachev3.NewSnapshotCache(true, cachev3.IDHash{}, nil)
	set := func(version string, mode posture.Mode) {
		t.Helper()
		snap, err := meshxds.Build(p, testPorts, posture.Policy{Default: mode}, version)
		if err != nil {
			t.Fatal(err)
		}
		if err := cache.SetSnapshot(context.Background(), node.GetId(), snap); err != nil {
			t.Fatal(err)
		}
	}
	set("1", posture.Strict)

	ctx, cancel := context.WithCancel(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	discovery.RegisterAggregatedDiscoveryServiceServer(gs, serverv3.NewServer(ctx, cache, nil))
	go func() { _ = gs.Serve(ln) }()

	got := make(chan posture.Policy, 4)
	c := NewClient(ln.Addr().String(), Options{
		Node:        func() (*core.Node, error) { return node, nil },
		DialOptions: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())},
		OnPolicy:    func(pol posture.Policy) { got <- pol },
	})
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		gs.Stop()
	})

	want := func(mode posture.Mode) {
		t.Helper()
		select {
		case pol := <-got:
			if pol.For(8443) != mode || pol.For(9443) != mode {
				t.Fatalf("got %+v, want %s on both ports", pol, mode)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no mode pushed, want %s", mode)
		}
	}
	want(posture.Strict)
	set("2", posture.Permissive)
	want(posture.Permissive)
	set("3", posture.Strict)
	want(posture.Strict)
}
