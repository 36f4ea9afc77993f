package gateway

import (
	"container/list"
	"context"
	"net"
	"net/netip"
	"sync"
	"time"
)

// dfpMaxHosts is Envoy's dynamic forward proxy DNS cache max_hosts default: the names a client
// can make the gateway remember are bounded by it.
const dfpMaxHosts = 1024

// dfpCache is the DNS cache of dynamic forwarding (HTTP by Host, TLS by SNI), as Envoy's
// dynamic forward proxy keeps one: an answer is reused until the refresh period passes, the
// least recently used name goes when dfpMaxHosts are held, and requests for a name being
// looked up wait for that one lookup instead of sending their own. Failures are not kept: the
// next request for the name asks again.
type dfpCache struct {
	mu      sync.Mutex
	entries map[string]*dfpEntry
	recent  list.List // of *dfpEntry, most recently used first
}

type dfpEntry struct {
	name    string
	elem    *list.Element
	done    chan struct{} // closed once addrs and err are set
	addrs   []netip.Addr
	err     error
	expires time.Time
}

// lookup returns name's addresses from the cache, or resolves them with r. ttl is how long a
// fresh answer is reused (MeshConfig dnsRefreshRate).
func (c *dfpCache) lookup(ctx context.Context, r hostResolver, name string, now time.Time, ttl time.Duration) ([]netip.Addr, error) {
	c.mu.Lock()
	e, ok := c.entries[name]
	if ok {
		c.recent.MoveToFront(e.elem)
		select {
		case <-e.done:
			if e.err == nil && now.Before(e.expires) {
				c.mu.Unlock()
				return e.addrs, nil
			}
			// Stale or failed: this request resolves it again, under a new entry.
			c.remove(e)
			ok = false
		default:
		}
	}
	if !ok {
		e = c.add(name)
		c.mu.Unlock()
		c.resolve(ctx, r, e, now, ttl)
	} else {
		c.mu.Unlock()
	}
	select {
	case <-e.done:
		return e.addrs, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// add makes a pending entry for name, dropping the least recently used one when full.
// c.mu is held.
func (c *dfpCache) add(name string) *dfpEntry {
	if c.entries == nil {
		c.entries = map[string]*dfpEntry{}
	}
	if len(c.entries) >= dfpMaxHosts {
		c.remove(c.recent.Back().Value.(*dfpEntry))
	}
	e := &dfpEntry{name: name, done: make(chan struct{})}
	e.elem = c.recent.PushFront(e)
	c.entries[name] = e
	return e
}

// remove forgets e; waiters holding it still get its answer. c.mu is held.
func (c *dfpCache) remove(e *dfpEntry) {
	if c.entries[e.name] == e {
		delete(c.entries, e.name)
	}
	c.recent.Remove(e.elem)
}

// resolve looks e's name up. The lookup outlives the request that started it (other requests
// may be waiting for it) but not dnsLookupTimeout.
func (c *dfpCache) resolve(ctx context.Context, r hostResolver, e *dfpEntry, now time.Time, ttl time.Duration) {
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dnsLookupTimeout)
	addrs, err := r.LookupNetIP(lctx, "ip", e.name)
	cancel()
	if err == nil && len(addrs) == 0 {
		err = &net.DNSError{Err: "no addresses", Name: e.name, IsNotFound: true}
	}
	c.mu.Lock()
	e.addrs, e.err, e.expires = addrs, err, now.Add(ttl)
	if err != nil {
		c.remove(e)
	}
	c.mu.Unlock()
	close(e.done)
}

// lookupDynamic resolves a name a client asked a dynamic forward cluster for, through the cache.
func (r *dnsRefresher) lookupDynamic(ctx context.Context, name string) ([]netip.Addr, error) {
	return r.dynamic.lookup(ctx, r.resolver, name, time.Now(), r.period())
}
