package ca

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxLimiters bounds the per-identity limiter map. The benchmark and a large mesh both use
// many identities; past this many, idle limiters are dropped first.
const maxLimiters = 100_000

// limiters is one token bucket per identity.
type limiters struct {
	limit rate.Limit
	burst int
	// idle is how long a bucket takes to refill: an entry unused that long is equivalent to
	// a new one, so dropping it forgets nothing.
	idle time.Duration
	max  int

	mu sync.Mutex
	m  map[Identity]*limiterEntry
}

type limiterEntry struct {
	lim  *rate.Limiter
	last time.Time
}

func newLimiters(limit rate.Limit, burst int) *limiters {
	idle := time.Duration(float64(burst) / float64(limit) * float64(time.Second))
	if limit == rate.Inf || idle <= 0 {
		idle = 0
	}
	return &limiters{limit: limit, burst: burst, idle: idle, max: maxLimiters, m: make(map[Identity]*limiterEntry)}
}

// allow reports whether id may make one more call at now.
func (l *limiters) allow(id Identity, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.m[id]
	if e == nil {
		if len(l.m) >= l.max {
			l.evict(now)
		}
		e = &limiterEntry{lim: rate.NewLimiter(l.limit, l.burst)}
		l.m[id] = e
	}
	e.last = now
	return e.lim.AllowN(now, 1)
}

// evict drops every idle entry, then arbitrary ones until a tenth of the map is free: memory
// stays bounded under any number of identities, and the O(n) sweep runs at most once per
// max/10 new identities. Dropping an active entry at worst gives that identity a fresh burst.
func (l *limiters) evict(now time.Time) {
	for id, e := range l.m {
		if now.Sub(e.last) >= l.idle {
			delete(l.m, id)
		}
	}
	target := l.max - l.max/10
	for id := range l.m {
		if len(l.m) <= target {
			return
		}
		delete(l.m, id)
	}
}

// size is the number of tracked identities, for tests.
func (l *limiters) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
