package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// clock is a fake time source that tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestLifetimesExpiry(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name     string
		l        Lifetimes
		lastSeen time.Duration // after t0, the creation time
		want     time.Time
	}{
		{"idle bound", Lifetimes{Absolute: 24 * time.Hour, Idle: time.Hour}, 0, t0.Add(time.Hour)},
		{"idle slides", Lifetimes{Absolute: 24 * time.Hour, Idle: time.Hour}, 5 * time.Hour, t0.Add(6 * time.Hour)},
		{"absolute caps idle", Lifetimes{Absolute: 24 * time.Hour, Idle: time.Hour}, 23*time.Hour + 30*time.Minute, t0.Add(24 * time.Hour)},
		{"absolute only", Lifetimes{Absolute: 2 * time.Hour}, time.Hour, t0.Add(2 * time.Hour)},
		{"idle only", Lifetimes{Idle: time.Hour}, 48 * time.Hour, t0.Add(49 * time.Hour)},
		{"unbounded", Lifetimes{}, time.Hour, time.Time{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.l.Expiry(t0, t0.Add(tt.lastSeen)); !got.Equal(tt.want) {
				t.Errorf("Expiry = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestMemorySessionLifetimes walks one session through uses and clock moves.
func TestMemorySessionLifetimes(t *testing.T) {
	t.Parallel()
	type step struct {
		advance time.Duration
		get     bool // Get, else only check Stats
		found   bool
	}
	for _, tt := range []struct {
		name  string
		l     Lifetimes
		steps []step
	}{
		{"used within idle lives to absolute", Lifetimes{Absolute: 3 * time.Hour, Idle: time.Hour}, []step{
			{50 * time.Minute, true, true},
			{50 * time.Minute, true, true},
			{50 * time.Minute, true, true},
			{50 * time.Minute, true, false}, // 200m > 180m absolute
		}},
		{"idle too long", Lifetimes{Absolute: 3 * time.Hour, Idle: time.Hour}, []step{
			{59 * time.Minute, true, true},
			{time.Hour, true, false},
		}},
		{"expires exactly at idle", Lifetimes{Absolute: 3 * time.Hour, Idle: time.Hour}, []step{
			{time.Hour, true, false},
		}},
		{"unbounded", Lifetimes{}, []step{{1000 * time.Hour, true, true}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			m := NewMemory(MemoryOptions{Lifetimes: tt.l, Now: clk.Now})
			ctx := context.Background()
			if err := m.Put(ctx, "id", &Session{Subject: "alice"}); err != nil {
				t.Fatal(err)
			}
			for i, s := range tt.steps {
				clk.Advance(s.advance)
				got, err := m.Get(ctx, "id")
				switch {
				case s.found && err != nil:
					t.Fatalf("step %d: Get: %v", i, err)
				case s.found && (got.Subject != "alice" || !got.LastSeen.Equal(clk.Now())):
					t.Fatalf("step %d: got %+v", i, got)
				case !s.found && !errors.Is(err, ErrNotFound):
					t.Fatalf("step %d: Get = %v, %v; want ErrNotFound", i, got, err)
				}
			}
		})
	}
}

func TestMemoryPutKeepsCreatedAndCopies(t *testing.T) {
	t.Parallel()
	clk := newClock()
	m := NewMemory(MemoryOptions{Lifetimes: Lifetimes{Absolute: 2 * time.Hour, Idle: time.Hour}, Now: clk.Now})
	ctx := context.Background()
	claims := map[string]any{"email": "alice@example.com"}
	if err := m.Put(ctx, "id", &Session{Subject: "alice", Claims: claims, AccessToken: "a1"}); err != nil {
		t.Fatal(err)
	}
	claims["email"] = "mallory@example.com" // the caller's map is not the stored one
	created := clk.Now()

	clk.Advance(50 * time.Minute)
	s, err := m.Get(ctx, "id")
	if err != nil {
		t.Fatal(err)
	}
	if s.Claims["email"] != "alice@example.com" || !s.Created.Equal(created) {
		t.Fatalf("got %+v", s)
	}
	s.AccessToken = "changed" // a copy: not stored until Put
	if again, _ := m.Get(ctx, "id"); again.AccessToken != "a1" {
		t.Fatalf("Get returned shared state: %q", again.AccessToken)
	}

	// A refresh keeps Created, so the absolute lifetime still counts from sign-in.
	s.AccessToken = "a2"
	if err := m.Put(ctx, "id", s); err != nil {
		t.Fatal(err)
	}
	clk.Advance(50 * time.Minute)
	if _, err := m.Get(ctx, "id"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(20 * time.Minute) // 120m after sign-in, 20m after the last use
	if _, err := m.Get(ctx, "id"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after absolute lifetime = %v, want ErrNotFound", err)
	}
	if err := m.Put(ctx, "id", s); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Put of an ended session = %v, want ErrNotFound", err)
	}
	if st := m.Stats(); st.Sessions != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestMemoryDelete(t *testing.T) {
	t.Parallel()
	m := NewMemory(MemoryOptions{})
	ctx := context.Background()
	if err := m.Put(ctx, "id", &Session{}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // deleting twice is not an error
		if err := m.Delete(ctx, "id"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Get(ctx, "id"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete = %v", err)
	}
}

// TestMemoryEviction: when full, the session that would expire soonest goes; expired ones go
// first and do not count as evictions.
func TestMemoryEviction(t *testing.T) {
	t.Parallel()
	clk := newClock()
	m := NewMemory(MemoryOptions{Lifetimes: Lifetimes{Absolute: 24 * time.Hour, Idle: time.Hour}, MaxSessions: 3, Now: clk.Now})
	ctx := context.Background()
	put := func(id string) {
		t.Helper()
		if err := m.Put(ctx, id, &Session{Subject: id}); err != nil {
			t.Fatal(err)
		}
	}
	live := func(id string) bool {
		_, err := m.Get(ctx, id)
		return err == nil
	}
	put("a")
	clk.Advance(time.Minute)
	put("b")
	clk.Advance(time.Minute)
	put("c")
	clk.Advance(time.Minute)
	live("a") // a used last: b now expires soonest
	put("d")  // full: b goes
	if live("b") || !live("c") || !live("a") || !live("d") {
		t.Fatalf("after d: want a, c, d live and b evicted")
	}
	if st := m.Stats(); st.Sessions != 3 || st.Evicted != 1 {
		t.Fatalf("stats %+v", st)
	}
	clk.Advance(2 * time.Hour) // all idle out
	put("e")
	if st := m.Stats(); st.Sessions != 1 || st.Evicted != 1 {
		t.Fatalf("expired entries should be swept, not evicted: %+v", st)
	}
}

func TestMemoryLogins(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		ttl     time.Duration
		advance time.Duration
		state   string // consumed; "s1" is stored
		want    error
	}{
		{"fresh", 10 * time.Minute, 9 * time.Minute, "s1", nil},
		{"expired", 10 * time.Minute, 10 * time.Minute, "s1", ErrNotFound},
		{"foreign state", 10 * time.Minute, 0, "s2", ErrNotFound},
		{"empty state", 10 * time.Minute, 0, "", ErrNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			m := NewMemory(MemoryOptions{Now: clk.Now})
			ctx := context.Background()
			in := &LoginAttempt{BrowserID: "b", Nonce: "n", PKCEVerifier: "v", ReturnTo: "/x"}
			if err := m.PutLogin(ctx, "s1", in, tt.ttl); err != nil {
				t.Fatal(err)
			}
			created := clk.Now()
			clk.Advance(tt.advance)
			got, err := m.ConsumeLogin(ctx, tt.state)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ConsumeLogin = %v, want %v", err, tt.want)
			}
			if err != nil {
				return
			}
			want := *in
			want.Created = created
			if *got != want {
				t.Fatalf("got %+v, want %+v", *got, want)
			}
			if _, err := m.ConsumeLogin(ctx, tt.state); !errors.Is(err, ErrNotFound) {
				t.Fatalf("second ConsumeLogin = %v, want ErrNotFound (a state is one-shot)", err)
			}
		})
	}
}

func TestMemoryRejects(t *testing.T) {
	t.Parallel()
	m := NewMemory(MemoryOptions{})
	ctx := context.Background()
	for name, err := range map[string]error{
		"empty id":    m.Put(ctx, "", &Session{}),
		"nil session": m.Put(ctx, "id", nil),
		"empty state": m.PutLogin(ctx, "", &LoginAttempt{}, time.Minute),
		"zero ttl":    m.PutLogin(ctx, "s", &LoginAttempt{}, 0),
		"nil attempt": m.PutLogin(ctx, "s", nil, time.Minute),
	} {
		if err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Get(cancelled, "id"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled context = %v", err)
	}
}

// TestMemoryConcurrentTabs: many login attempts at once each get their own record, and each
// state is consumed exactly once however many callbacks race for it.
func TestMemoryConcurrentTabs(t *testing.T) {
	t.Parallel()
	m := NewMemory(MemoryOptions{Lifetimes: Lifetimes{Absolute: time.Hour, Idle: time.Hour}})
	ctx := context.Background()
	const tabs, racers = 16, 4
	states := make([]string, tabs)
	for i := range states {
		states[i] = NewID()
		if err := m.PutLogin(ctx, states[i], &LoginAttempt{ReturnTo: fmt.Sprint("/", i)}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	won := map[string]int{}
	var wg sync.WaitGroup
	for _, s := range states {
		for range racers {
			wg.Go(func() {
				if _, err := m.ConsumeLogin(ctx, s); err == nil {
					mu.Lock()
					won[s]++
					mu.Unlock()
				}
				id := NewID()
				_ = m.Put(ctx, id, &Session{Subject: s})
				_, _ = m.Get(ctx, id)
				_ = m.Delete(ctx, id)
			})
		}
	}
	wg.Wait()
	for _, s := range states {
		if won[s] != 1 {
			t.Errorf("state consumed %d times, want 1", won[s])
		}
	}
}

func TestNewID(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if len(id) != 43 {
			t.Fatalf("len(%q) = %d, want 43 (256 bits, base64url unpadded)", id, len(id))
		}
		for _, c := range id {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				t.Fatalf("%q: %q is not URL-safe", id, c)
			}
		}
		if seen[id] {
			t.Fatalf("%q repeated", id)
		}
		seen[id] = true
	}
}
