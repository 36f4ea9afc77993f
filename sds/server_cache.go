package sds

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"

	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// secretCache is the go-control-plane cache for Secrets. It answers from the Store at request
// time rather than from prebuilt snapshots, because what a proxy may ask for depends on its
// namespace and on the names it sends ("<name>-cacert" resolves to a separate Secret or to the
// CA of <name>, file-cert:/file-root: names are whatever the Gateway wrote), so there is no
// per-node resource set worth precomputing. Every open watch remembers its stream's
// subscription; on a Store change notify recomputes each one and answers those whose resources
// changed.
//
// Secrets are served by name only: a wildcard or empty subscription gets nothing, so no proxy
// can list private keys it did not name.
type secretCache struct {
	store     *Store
	log       *slog.Logger
	namespace string // for proxies whose node names no namespace

	mu      sync.Mutex
	nextID  uint64
	sotw    map[uint64]*sotwWatch
	delta   map[uint64]*deltaWatch
	missing map[string]bool // namespace + "\x00" + name, logged as not found until it resolves
}

type sotwWatch struct {
	req *cachev3.Request
	sub cachev3.Subscription
	ch  chan cachev3.Response
}

type deltaWatch struct {
	req *cachev3.DeltaRequest
	sub cachev3.Subscription
	ch  chan cachev3.DeltaResponse
}

var _ cachev3.Cache = (*secretCache)(nil)

func newSecretCache(store *Store, log *slog.Logger, namespace string) *secretCache {
	return &secretCache{
		store: store, log: log, namespace: namespace,
		sotw: map[uint64]*sotwWatch{}, delta: map[uint64]*deltaWatch{}, missing: map[string]bool{},
	}
}

// resolve looks up subscribed names for a proxy in namespace ns. Called with mu held.
func (c *secretCache) resolve(ns string, names map[string]struct{}) resolved {
	v, _ := c.store.Version()
	out := resolved{version: v, resources: make(map[string]*secretResource, len(names))}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		if name == "*" {
			continue
		}
		key := ns + "\x00" + name
		cred, ok := c.store.Resolve(ns, name)
		if !ok {
			if !c.missing[key] {
				c.missing[key] = true
				// Envoy waits for a resource that does not exist yet; saying so once helps the
				// operator find the Secret or file that is missing or invalid.
				attrs := []any{"resource", name, "namespace", ns, "storeName", StoreName(ns, name)}
				if err := c.store.Rejected(StoreName(ns, name)); err != nil {
					attrs = append(attrs, "rejected", err)
				}
				c.log.Warn("SDS resource not found; the proxy waits for it", attrs...)
			}
			continue
		}
		delete(c.missing, key)
		res, err := newSecretResource(name, cred)
		if err != nil {
			c.log.Error("SDS resource not served", "resource", name, "namespace", ns, "error", err)
			continue
		}
		out.version = max(out.version, cred.Version)
		out.resources[name] = res
	}
	return out
}

// CreateWatch answers at once when the stream lacks a current version of a subscribed
// resource that exists, else holds the watch until notify finds one.
func (c *secretCache) CreateWatch(req *cachev3.Request, sub cachev3.Subscription, ch chan cachev3.Response) (func(), error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.warnWildcard(req.GetNode().GetId(), sub)
	r := c.resolve(NodeNamespace(req.GetNode(), c.namespace), sub.SubscribedResources())
	if r.changed(sub.ReturnedResources()) {
		resp, err := r.discoveryResponse(req)
		if err != nil {
			return nil, err
		}
		ch <- resp // the server gives every watch its own channel with room for one response
		return func() {}, nil
	}
	c.nextID++
	id := c.nextID
	c.sotw[id] = &sotwWatch{req: req, sub: sub, ch: ch}
	return func() { c.cancel(func() { delete(c.sotw, id) }) }, nil
}

// CreateDeltaWatch answers with the subscribed resources that are new or changed for the
// stream and those it had that no longer exist, else holds the watch.
func (c *secretCache) CreateDeltaWatch(req *cachev3.DeltaRequest, sub cachev3.Subscription, ch chan cachev3.DeltaResponse) (func(), error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.warnWildcard(req.GetNode().GetId(), sub)
	r := c.resolve(NodeNamespace(req.GetNode(), c.namespace), sub.SubscribedResources())
	if resp := r.deltaResponse(req, sub); resp != nil {
		ch <- resp // the delta server's channel has room for a response per type
		return func() {}, nil
	}
	c.nextID++
	id := c.nextID
	c.delta[id] = &deltaWatch{req: req, sub: sub, ch: ch}
	return func() { c.cancel(func() { delete(c.delta, id) }) }, nil
}

func (c *secretCache) warnWildcard(node string, sub cachev3.Subscription) {
	if sub.IsWildcard() {
		c.log.Warn("wildcard Secret subscription ignored: Secrets are served only by name", "node", node)
	}
}

func (c *secretCache) cancel(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f()
}

// Fetch answers a one-shot request with the named resources that exist.
func (c *secretCache) Fetch(_ context.Context, req *cachev3.Request) (cachev3.Response, error) {
	names := map[string]struct{}{}
	for _, n := range req.GetResourceNames() {
		names[n] = struct{}{}
	}
	delete(names, "*")
	if len(names) == 0 {
		return nil, status.Error(codes.InvalidArgument, "FetchSecrets: name the secrets to fetch; Secrets are not listed by wildcard")
	}
	c.mu.Lock()
	r := c.resolve(NodeNamespace(req.GetNode(), c.namespace), names)
	c.mu.Unlock()
	return r.discoveryResponse(req)
}

// notify answers every open watch whose resources changed. The Store's change channel drives it.
func (c *secretCache) notify() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, w := range c.sotw {
		r := c.resolve(NodeNamespace(w.req.GetNode(), c.namespace), w.sub.SubscribedResources())
		if !r.changed(w.sub.ReturnedResources()) {
			continue
		}
		resp, err := r.discoveryResponse(w.req)
		if err != nil {
			c.log.Error("SDS push failed", "error", err)
			continue
		}
		delete(c.sotw, id)
		if !trySend(w.ch, cachev3.Response(resp)) {
			c.log.Error("SDS push dropped: the stream has an unread response", "error", errBusyWatch)
		}
	}
	for id, w := range c.delta {
		r := c.resolve(NodeNamespace(w.req.GetNode(), c.namespace), w.sub.SubscribedResources())
		resp := r.deltaResponse(w.req, w.sub)
		if resp == nil {
			continue
		}
		delete(c.delta, id)
		if !trySend(w.ch, cachev3.DeltaResponse(resp)) {
			c.log.Error("SDS delta push dropped: the stream has an unread response", "error", errBusyWatch)
		}
	}
}

var errBusyWatch = errors.New("watch channel full")

// trySend never blocks while mu is held; each watch is answered once and its channel has room
// for that answer, so a full channel means a server invariant broke, not back-pressure.
func trySend[T any](ch chan T, v T) bool {
	select {
	case ch <- v:
		return true
	default:
		return false
	}
}
