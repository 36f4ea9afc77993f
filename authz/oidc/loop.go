package oidc

import (
	"sync"
	"time"
)

// loopCounter counts login attempts per browser id in a fixed window that starts with the
// browser's first attempt. It is bounded: when full, it forgets every count, which can only let
// a loop run one more window.
type loopCounter struct {
	limit  int
	window time.Duration

	mu     sync.Mutex
	counts map[string]loopCount
}

type loopCount struct {
	start time.Time
	n     int
}

// loopCounterMax bounds the browsers counted at once.
const loopCounterMax = 10_000

func newLoopCounter(limit int, window time.Duration) *loopCounter {
	return &loopCounter{limit: limit, window: window, counts: map[string]loopCount{}}
}

// allow counts one attempt of browser at now and reports whether it is within the limit.
func (c *loopCounter) allow(browser string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	lc, ok := c.counts[browser]
	if !ok || now.Sub(lc.start) >= c.window {
		if !ok && len(c.counts) >= loopCounterMax {
			c.sweep(now)
		}
		lc = loopCount{start: now}
	}
	lc.n++
	c.counts[browser] = lc
	return lc.n <= c.limit
}

// sweep drops finished windows, or everything when none has finished.
func (c *loopCounter) sweep(now time.Time) {
	for k, lc := range c.counts {
		if now.Sub(lc.start) >= c.window {
			delete(c.counts, k)
		}
	}
	if len(c.counts) >= loopCounterMax {
		clear(c.counts)
	}
}
