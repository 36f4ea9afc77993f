package meshxds

import (
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	stream "github.com/envoyproxy/go-control-plane/pkg/server/stream/v3"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// watchListeners opens a wildcard LDS watch as the sotw server does, with its one-slot channel.
// returned lists what the stream already holds, as the server tracks it between requests.
func watchListeners(t *testing.T, c *Cache, n *cachev3.Request, returned ...string) chan cachev3.Response {
	t.Helper()
	ch := make(chan cachev3.Response, 1)
	sub := stream.NewSotwSubscription(nil, true)
	held := map[string]string{}
	for _, name := range returned {
		held[name] = n.GetVersionInfo()
	}
	sub.SetReturnedResources(held)
	cancel, err := c.CreateWatch(n, sub, ch)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	return ch
}

func listenerOf(t *testing.T, resp cachev3.Response) *listenerv3.Listener {
	t.Helper()
	d, err := resp.GetDiscoveryResponse()
	if err != nil {
		t.Fatal(err)
	}
	if len(d.GetResources()) != 1 {
		t.Fatalf("%d listeners, want 1", len(d.GetResources()))
	}
	var l listenerv3.Listener
	if err := d.GetResources()[0].UnmarshalTo(&l); err != nil {
		t.Fatal(err)
	}
	return &l
}

func TestCacheWaitsForTheFirstApply(t *testing.T) {
	t.Parallel()
	c := NewCache(nil)
	ch := watchListeners(t, c, &cachev3.Request{Node: envoyNode(t), TypeUrl: resourcev3.ListenerType})
	select {
	case <-ch:
		t.Fatal("answered before any config was applied")
	default:
	}
	c.Apply(loadSnapshot(t, "testdata/disable.in.yaml"))
	l := listenerOf(t, <-ch)
	for _, fc := range l.GetFilterChains() {
		if fc.GetFilterChainMatch().GetTransportProtocol() != "raw_buffer" {
			t.Errorf("DISABLE chain %s matches %q", fc.GetName(), fc.GetFilterChainMatch().GetTransportProtocol())
		}
	}
}

func TestCacheUnrelatedChangePushesNothing(t *testing.T) {
	t.Parallel()
	c := NewCache(nil)
	cfg := loadSnapshot(t, "testdata/strict.in.yaml")
	c.Apply(cfg)
	req := &cachev3.Request{Node: envoyNode(t), TypeUrl: resourcev3.ListenerType}
	resp := <-watchListeners(t, c, req)
	version, err := resp.GetVersion()
	if err != nil {
		t.Fatal(err)
	}
	// The proxy now holds that version; the same resources from a newer snapshot (another
	// namespace's policy changed) must not answer its next watch.
	next := &cachev3.Request{Node: req.GetNode(), TypeUrl: resourcev3.ListenerType, VersionInfo: version}
	ch := watchListeners(t, c, next, VirtualInboundListenerName)
	c.Apply(policy.NewSnapshot(cfg.Version+1, append(cfg.Resources(), &policy.Resource{
		Kind: policy.KindServiceEntry, Namespace: "shop", Name: "unrelated", Spec: nil,
	}), cfg.Mesh, cfg.Settings, nil, nil))
	select {
	case r := <-ch:
		v, _ := r.GetVersion()
		t.Fatalf("pushed version %s for an unchanged listener (had %s)", v, version)
	default:
	}
}

func TestCacheIgnoresGatewayNodes(t *testing.T) {
	t.Parallel()
	c := NewCache(nil)
	c.Apply(loadSnapshot(t, "testdata/strict.in.yaml"))
	n := envoyNode(t)
	n.Id = "router~10.0.0.1~gw-1.istio-system~istio-system.svc.cluster.local"
	ch := watchListeners(t, c, &cachev3.Request{Node: n, TypeUrl: resourcev3.ListenerType})
	select {
	case <-ch:
		t.Fatal("a gateway node got sidecar listeners")
	default:
	}
}
