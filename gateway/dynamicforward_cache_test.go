package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// dfpResolver answers every name with 127.0.0.1, or fails names in fail, and counts
// lookups; block, when set, holds lookups until it is closed.
type dfpResolver struct {
	calls atomic.Int64
	fail  map[string]bool
	block chan struct{}
}

func (r *dfpResolver) LookupNetIP(ctx context.Context, _, host string) ([]netip.Addr, error) {
	r.calls.Add(1)
	if r.block != nil {
		select {
		case <-r.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if r.fail[host] {
		return nil, errors.New("no such host")
	}
	return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
}

func TestDFPCacheReusesUntilRefresh(t *testing.T) {
	t.Parallel()
	var c dfpCache
	r := &dfpResolver{}
	now := time.Unix(1000, 0)
	for range 3 {
		if _, err := c.lookup(context.Background(), r, "a.example.com", now, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if n := r.calls.Load(); n != 1 {
		t.Fatalf("3 lookups within the refresh period made %d queries, want 1", n)
	}
	if _, err := c.lookup(context.Background(), r, "a.example.com", now.Add(time.Minute), time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := r.calls.Load(); n != 2 {
		t.Fatalf("a lookup after the refresh period made %d queries in all, want 2", n)
	}
}

func TestDFPCacheDoesNotKeepFailures(t *testing.T) {
	t.Parallel()
	var c dfpCache
	r := &dfpResolver{fail: map[string]bool{"down.example.com": true}}
	now := time.Unix(1000, 0)
	for range 2 {
		if _, err := c.lookup(context.Background(), r, "down.example.com", now, time.Minute); err == nil {
			t.Fatal("want the resolver's error")
		}
	}
	if n := r.calls.Load(); n != 2 {
		t.Fatalf("two lookups of a failing name made %d queries, want 2", n)
	}
}

func TestDFPCacheSharesALookupInFlight(t *testing.T) {
	t.Parallel()
	var c dfpCache
	r := &dfpResolver{block: make(chan struct{})}
	now := time.Unix(1000, 0)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := c.lookup(context.Background(), r, "a.example.com", now, time.Minute)
			errs <- err
		})
	}
	// Let every request reach the cache before the one lookup answers.
	deadline := time.Now().Add(10 * time.Second)
	for r.calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(r.block)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := r.calls.Load(); n < 1 || n > 8 {
		t.Fatalf("%d queries", n)
	}
	// Once answered, the name is cached: no more queries.
	before := r.calls.Load()
	if _, err := c.lookup(context.Background(), r, "a.example.com", now, time.Minute); err != nil || r.calls.Load() != before {
		t.Fatalf("cached lookup: err %v, queries %d -> %d", err, before, r.calls.Load())
	}
}

func TestDFPCacheWaiterLeavesWithItsContext(t *testing.T) {
	t.Parallel()
	var c dfpCache
	r := &dfpResolver{block: make(chan struct{})}
	defer close(r.block)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	go func() { _, _ = c.lookup(context.Background(), r, "slow.example.com", time.Unix(1000, 0), time.Minute) }()
	deadline := time.Now().Add(10 * time.Second)
	for r.calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if _, err := c.lookup(ctx, r, "slow.example.com", time.Unix(1000, 0), time.Minute); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting on a slow lookup past the request's deadline: %v", err)
	}
}

func TestDFPCacheIsBounded(t *testing.T) {
	t.Parallel()
	var c dfpCache
	r := &dfpResolver{}
	now := time.Unix(1000, 0)
	for i := range dfpMaxHosts + 10 {
		if _, err := c.lookup(context.Background(), r, fmt.Sprintf("h%d.example.com", i), now, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(c.entries); n != dfpMaxHosts {
		t.Fatalf("%d names held, want the bound %d", n, dfpMaxHosts)
	}
	// The first names were the least recently used: they went first.
	before := r.calls.Load()
	if _, err := c.lookup(context.Background(), r, "h0.example.com", now, time.Minute); err != nil || r.calls.Load() != before+1 {
		t.Fatalf("the evicted h0 was not looked up again (%v)", err)
	}
	if _, err := c.lookup(context.Background(), r, fmt.Sprintf("h%d.example.com", dfpMaxHosts+9), now, time.Minute); err != nil || r.calls.Load() != before+1 {
		t.Fatalf("the most recent name was looked up again (%v)", err)
	}
}
