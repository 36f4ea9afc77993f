package jwt

import (
	"hash/maphash"
	"sync"
	"time"
)

// noExpTTL bounds how long a token without exp stays cached: it has no expiry of its own to bound
// the entry, and an inline key set never changes to invalidate it.
const noExpTTL = 10 * time.Minute

const cacheShards = 16

// maxUnixSeconds (year 9999) keeps absurd exp values from overflowing time arithmetic.
const maxUnixSeconds = 253402300799

// verifiedCache remembers tokens whose signature verified, so a repeated token skips the
// signature check (ARCHITECTURE.md: verified-JWT cache bounded by exp). An entry is only used
// with the same *keySet that verified it, and never past exp plus clock skew; time, issuer and
// audience checks run on every request from the cached parse. Failures are never cached.
type verifiedCache struct {
	seed     maphash.Seed
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[string]verifiedEntry
}

type verifiedEntry struct {
	tok     *token
	keys    *keySet
	expires time.Time
}

func newVerifiedCache(size int) *verifiedCache {
	c := &verifiedCache{seed: maphash.MakeSeed(), perShard: max(1, size/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]verifiedEntry)
	}
	return c
}

func (c *verifiedCache) shard(raw string) *cacheShard {
	return &c.shards[maphash.String(c.seed, raw)%cacheShards]
}

// get returns the token verified by keys, or nil.
func (c *verifiedCache) get(raw string, keys *keySet, now time.Time) *token {
	s := c.shard(raw)
	s.mu.RLock()
	e, ok := s.m[raw]
	s.mu.RUnlock()
	if !ok || e.keys != keys || !now.Before(e.expires) {
		return nil
	}
	return e.tok
}

// peek returns a cached parse of the token, whichever keys verified it, so a repeated token is
// not parsed again; the caller still checks it against its rule's current keys with get.
func (c *verifiedCache) peek(raw string, now time.Time) *token {
	s := c.shard(raw)
	s.mu.RLock()
	e, ok := s.m[raw]
	s.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		return nil
	}
	return e.tok
}

func (c *verifiedCache) put(t *token, keys *keySet, now time.Time) {
	expires := now.Add(noExpTTL)
	if t.exp != 0 {
		expires = time.Unix(int64(min(t.exp, maxUnixSeconds)), 0).Add(clockSkew)
	}
	if !now.Before(expires) {
		return
	}
	s := c.shard(t.raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= c.perShard {
		for k, e := range s.m {
			if !now.Before(e.expires) {
				delete(s.m, k)
			}
		}
		// Still full: drop an arbitrary entry. Map order is random enough that a flood of
		// one-off tokens cannot pin the entries that repeat.
		for k := range s.m {
			if len(s.m) < c.perShard {
				break
			}
			delete(s.m, k)
		}
	}
	s.m[t.raw] = verifiedEntry{tok: t, keys: keys, expires: expires}
}
