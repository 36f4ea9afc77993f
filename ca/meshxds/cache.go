package meshxds

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	xdslog "github.com/envoyproxy/go-control-plane/pkg/log"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gatehouse-dev/gatehouse/ca/posture"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// Cache is the LDS/CDS cache for sds.ServerOptions.Caches: go-control-plane's SnapshotCache keyed by node id,
// rebuilt for every node it has seen on each Apply (a new snapshot) — pushes reach connected proxies at once.
//
// A node is seen on its first request; its snapshot is built then from the last applied policy.
// Until the first Apply its watches wait, so a proxy never gets a posture computed from no
// config. A node whose resources fail to build keeps its previous snapshot (last good config
// wins) and the failure is logged.
type Cache struct {
	log   *slog.Logger
	inner cachev3.SnapshotCache

	mu      sync.Mutex
	policy  *policy.Snapshot // nil until the first Apply
	proxies map[string]Proxy // node id → what its node last said
}

var _ cachev3.Cache = (*Cache)(nil)

// NewCache returns an empty cache; Apply a snapshot to start answering.
func NewCache(log *slog.Logger) *Cache {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "meshxds")
	return &Cache{
		log: log,
		// ads: Envoy asks for Listeners and Clusters by wildcard on one ADS stream.
		inner:   cachev3.NewSnapshotCache(true, cachev3.IDHash{}, xdsLogger(log)),
		proxies: map[string]Proxy{},
	}
}

// Caches maps the Listener and Cluster type URLs to c, the form sds.ServerOptions.Caches takes.
func (c *Cache) Caches() map[string]cachev3.Cache {
	return map[string]cachev3.Cache{resourcev3.ListenerType: c, resourcev3.ClusterType: c}
}

// Apply rebuilds every seen proxy's snapshot from snap. Proxies whose resources did not change
// keep their version, so only the affected ones get a push.
func (c *Cache) Apply(snap *policy.Snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.policy = snap
	for _, p := range c.proxies {
		c.update(p)
	}
}

// seen records the node a request came from and builds its snapshot on first sight, or when
// the node announces a different identity (a restarted proxy reusing its id).
func (c *Cache) seen(n *core.Node) {
	p, err := ProxyFromNode(n)
	if err != nil {
		c.log.Warn("no sidecar resources for this node", "node", n.GetId(), "error", err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.proxies[p.ID]; ok && sameProxy(old, p) {
		return
	}
	c.proxies[p.ID] = p
	c.update(p)
}

// update rebuilds one proxy's snapshot. Called with mu held.
func (c *Cache) update(p Proxy) {
	if c.policy == nil {
		return
	}
	pol := posture.Effective(c.policy, posture.Workload{Namespace: p.Namespace, Labels: p.Labels})
	res, err := resources(InboundPorts(c.policy, p), pol)
	if err == nil {
		var snap *cachev3.Snapshot
		if snap, err = contentSnapshot(res); err == nil {
			err = c.inner.SetSnapshot(context.Background(), p.ID, snap)
		}
	}
	if err != nil {
		c.log.Error("sidecar resources not updated; the proxy keeps its previous ones",
			"node", p.ID, "namespace", p.Namespace, "policyVersion", c.policy.Version, "error", err)
		return
	}
	c.log.Debug("sidecar resources built", "node", p.ID, "namespace", p.Namespace, "mode", string(pol.Default))
}

func sameProxy(a, b Proxy) bool {
	return a.ID == b.ID && a.Namespace == b.Namespace && a.ServiceAccount == b.ServiceAccount &&
		a.IP == b.IP && maps.Equal(a.Labels, b.Labels)
}

// CreateWatch implements cachev3.Cache.
func (c *Cache) CreateWatch(req *cachev3.Request, sub cachev3.Subscription, ch chan cachev3.Response) (func(), error) {
	c.seen(req.GetNode())
	return c.inner.CreateWatch(req, sub, ch)
}

// CreateDeltaWatch implements cachev3.Cache.
func (c *Cache) CreateDeltaWatch(req *cachev3.DeltaRequest, sub cachev3.Subscription, ch chan cachev3.DeltaResponse) (func(), error) {
	c.seen(req.GetNode())
	return c.inner.CreateDeltaWatch(req, sub, ch)
}

// Fetch implements cachev3.Cache.
func (c *Cache) Fetch(ctx context.Context, req *cachev3.Request) (cachev3.Response, error) {
	c.seen(req.GetNode())
	resp, err := c.inner.Fetch(ctx, req)
	if err != nil {
		return nil, status.Error(codes.Unavailable, fmt.Sprintf("no %s resources for node %q yet: %v", req.GetTypeUrl(), req.GetNode().GetId(), err))
	}
	return resp, nil
}

// xdsLogger keeps go-control-plane's chatter at debug and its warnings and errors visible.
func xdsLogger(log *slog.Logger) xdslog.Logger {
	return xdslog.LoggerFuncs{
		DebugFunc: func(f string, a ...any) { log.Debug(fmt.Sprintf(f, a...)) },
		InfoFunc:  func(f string, a ...any) { log.Debug(fmt.Sprintf(f, a...)) },
		WarnFunc:  func(f string, a ...any) { log.Warn(fmt.Sprintf(f, a...)) },
		ErrorFunc: func(f string, a ...any) { log.Error(fmt.Sprintf(f, a...)) },
	}
}
