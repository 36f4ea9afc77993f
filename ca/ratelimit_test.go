package ca

import (
	"strconv"
	"testing"
	"time"
)

func TestLimiters(t *testing.T) {
	t.Parallel()
	now := time.Now()
	l := newLimiters(1, 2)
	web, db := Identity{Namespace: "a", ServiceAccount: "web"}, Identity{Namespace: "a", ServiceAccount: "db"}
	steps := []struct {
		id   Identity
		at   time.Duration
		want bool
	}{
		{web, 0, true},
		{web, 0, true},
		{web, 0, false}, // burst spent
		{db, 0, true},   // per identity
		{web, time.Second, true},
		{web, time.Second, false},
	}
	for i, s := range steps {
		if got := l.allow(s.id, now.Add(s.at)); got != s.want {
			t.Errorf("step %d: allow = %v, want %v", i, got, s.want)
		}
	}
}

func TestLimitersBounded(t *testing.T) {
	t.Parallel()
	now := time.Now()
	l := newLimiters(10, 20)
	l.max = 100
	for i := range 1000 {
		l.allow(Identity{Namespace: "ns", ServiceAccount: "sa" + strconv.Itoa(i)}, now)
		if n := l.size(); n > l.max {
			t.Fatalf("after %d identities the map holds %d > %d", i+1, n, l.max)
		}
	}
	// Idle entries (bucket refilled) are dropped first, keeping the active ones.
	l2 := newLimiters(10, 20)
	l2.max = 10
	active := Identity{Namespace: "ns", ServiceAccount: "active"}
	for i := range 9 {
		l2.allow(Identity{Namespace: "ns", ServiceAccount: "idle" + strconv.Itoa(i)}, now)
	}
	later := now.Add(3 * time.Second) // > burst/rate = 2s
	for range 20 {
		l2.allow(active, later)
	}
	l2.allow(Identity{Namespace: "ns", ServiceAccount: "new"}, later)
	if l2.allow(active, later) {
		t.Error("the active identity's spent bucket was evicted")
	}
	if n := l2.size(); n != 2 {
		t.Errorf("size = %d, want 2 (active, new)", n)
	}
}
