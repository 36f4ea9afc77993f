package session

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/test/peers/redispeer"
)

// stores are the implementations every contract test runs against, each made fresh with the
// given lifetimes on the real clock.
var stores = []struct {
	name string
	make func(t *testing.T, l Lifetimes) Store
}{
	{"memory", func(t *testing.T, l Lifetimes) Store { return NewMemory(MemoryOptions{Lifetimes: l}) }},
	{"redis", func(t *testing.T, l Lifetimes) Store { return newTestRedis(t, l, testKey("k1", 1)) }},
}

// newTestRedis returns a Redis store on a redis-server of its own.
func newTestRedis(t *testing.T, l Lifetimes, keys ...Key) *Redis {
	t.Helper()
	r, err := NewRedis(RedisOptions{Client: redisClient(t), Keys: must(NewKeyRing(keys...)), Lifetimes: l})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: redispeer.Start(t)})
	t.Cleanup(func() { client.Close() })
	return client
}

func TestStoreContract(t *testing.T) {
	t.Parallel()
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			t.Run("round trip and replace", func(t *testing.T) {
				t.Parallel()
				s := st.make(t, Lifetimes{Absolute: time.Hour, Idle: time.Hour})
				ctx := t.Context()
				in := &Session{Issuer: "https://idp", Subject: "alice", Claims: map[string]any{"groups": []any{"a", "b"}, "exp": float64(17)},
					IDToken: strings.Repeat("x", 8000), AccessToken: "a1", RefreshToken: "r1", TokenExpiry: time.Now().Add(time.Minute).Truncate(time.Millisecond)}
				if err := s.Put(ctx, "id", in); err != nil {
					t.Fatal(err)
				}
				got, err := s.Get(ctx, "id")
				if err != nil {
					t.Fatal(err)
				}
				if got.Subject != "alice" || got.Issuer != "https://idp" || got.IDToken != in.IDToken || got.RefreshToken != "r1" ||
					!got.TokenExpiry.Equal(in.TokenExpiry) || fmt.Sprint(got.Claims) != fmt.Sprint(in.Claims) || got.Created.IsZero() {
					t.Fatalf("got %+v", got)
				}
				got.AccessToken = "a2"
				if err := s.Put(ctx, "id", got); err != nil {
					t.Fatal(err)
				}
				again, err := s.Get(ctx, "id")
				if err != nil || again.AccessToken != "a2" || !again.Created.Equal(got.Created) {
					t.Fatalf("after replace: %+v, %v", again, err)
				}
				if err := s.Delete(ctx, "id"); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Get(ctx, "id"); !errors.Is(err, ErrNotFound) {
					t.Fatalf("Get after Delete = %v", err)
				}
				if err := s.Delete(ctx, "id"); err != nil {
					t.Fatalf("second Delete: %v", err)
				}
			})
			t.Run("ended session is not stored", func(t *testing.T) {
				t.Parallel()
				s := st.make(t, Lifetimes{Absolute: time.Hour})
				err := s.Put(t.Context(), "id", &Session{Created: time.Now().Add(-2 * time.Hour)})
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("Put past the absolute lifetime = %v, want ErrNotFound", err)
				}
			})
			t.Run("idle lifetime", func(t *testing.T) {
				t.Parallel()
				s := st.make(t, Lifetimes{Absolute: time.Hour, Idle: 300 * time.Millisecond})
				if err := s.Put(t.Context(), "id", &Session{Subject: "alice"}); err != nil {
					t.Fatal(err)
				}
				// Unused, it idles out. A Get is a use, so the test waits on the clock, not the store.
				put := time.Now()
				waitFor(t, func() bool { return time.Since(put) > 300*time.Millisecond })
				if _, err := s.Get(t.Context(), "id"); !errors.Is(err, ErrNotFound) {
					t.Fatalf("Get after the idle lifetime = %v, want ErrNotFound", err)
				}
			})
			t.Run("login one-shot under concurrency", func(t *testing.T) {
				t.Parallel()
				s := st.make(t, Lifetimes{})
				ctx := t.Context()
				in := &LoginAttempt{BrowserID: "b", Nonce: "n", PKCEVerifier: "v", ReturnTo: "/x", Created: time.Now().Truncate(time.Millisecond)}
				const states, racers = 8, 8
				var won [states]atomic.Int32
				for i := range states {
					if err := s.PutLogin(ctx, fmt.Sprint("state", i), in, time.Minute); err != nil {
						t.Fatal(err)
					}
				}
				var wg sync.WaitGroup
				for i := range states {
					for range racers {
						wg.Go(func() {
							a, err := s.ConsumeLogin(ctx, fmt.Sprint("state", i))
							switch {
							case err == nil:
								if !a.Created.Equal(in.Created) || a.ReturnTo != "/x" || a.PKCEVerifier != "v" {
									t.Errorf("got %+v", a)
								}
								won[i].Add(1)
							case !errors.Is(err, ErrNotFound):
								t.Error(err)
							}
						})
					}
				}
				wg.Wait()
				for i := range states {
					if n := won[i].Load(); n != 1 {
						t.Errorf("state%d consumed %d times, want 1", i, n)
					}
				}
				if _, err := s.ConsumeLogin(ctx, "unknown"); !errors.Is(err, ErrNotFound) {
					t.Errorf("unknown state: %v", err)
				}
			})
			t.Run("login expires", func(t *testing.T) {
				t.Parallel()
				s := st.make(t, Lifetimes{})
				if err := s.PutLogin(t.Context(), "state", &LoginAttempt{}, 100*time.Millisecond); err != nil {
					t.Fatal(err)
				}
				put := time.Now()
				waitFor(t, func() bool { return time.Since(put) > 100*time.Millisecond })
				if _, err := s.ConsumeLogin(t.Context(), "state"); !errors.Is(err, ErrNotFound) {
					t.Fatalf("ConsumeLogin after its ttl = %v, want ErrNotFound", err)
				}
			})
			t.Run("lock exclusive", func(t *testing.T) {
				t.Parallel()
				s := st.make(t, Lifetimes{})
				ctx := t.Context()
				const racers = 16
				var wins atomic.Int32
				var wg sync.WaitGroup
				start := make(chan struct{})
				for range racers {
					wg.Go(func() {
						<-start
						// A winner holds on (no unlock) until every racer has tried.
						_, ok, err := s.Lock(ctx, "id", time.Minute)
						if err != nil {
							t.Error(err)
						}
						if ok {
							wins.Add(1)
						}
					})
				}
				close(start)
				wg.Wait()
				if n := wins.Load(); n != 1 {
					t.Fatalf("%d lock holders, want 1", n)
				}
				if _, ok, _ := s.Lock(ctx, "other", time.Minute); !ok {
					t.Fatal("a lock on another session is independent")
				}
			})
			t.Run("unlock releases only its own", func(t *testing.T) {
				t.Parallel()
				s := st.make(t, Lifetimes{})
				ctx := t.Context()
				unlock, ok, err := s.Lock(ctx, "id", time.Minute)
				if err != nil || !ok {
					t.Fatalf("Lock = %v, %v", ok, err)
				}
				unlock()
				unlock2, ok, err := s.Lock(ctx, "id", time.Minute)
				if err != nil || !ok {
					t.Fatalf("Lock after unlock = %v, %v", ok, err)
				}
				unlock() // stale: must not release the second holder's lock
				if _, ok, _ := s.Lock(ctx, "id", time.Minute); ok {
					t.Fatal("a stale unlock released the next holder's lock")
				}
				unlock2()
			})
			t.Run("lease expiry", func(t *testing.T) {
				t.Parallel()
				s := st.make(t, Lifetimes{})
				ctx := t.Context()
				if _, ok, err := s.Lock(ctx, "id", 150*time.Millisecond); err != nil || !ok {
					t.Fatalf("Lock = %v, %v", ok, err)
				}
				// The holder never unlocks (it died): the lease runs out and the lock is free.
				waitFor(t, func() bool {
					unlock, ok, err := s.Lock(ctx, "id", time.Minute)
					if err != nil {
						t.Fatal(err)
					}
					if ok {
						unlock()
					}
					return ok
				})
			})
		})
	}
}

// waitFor polls cond until it holds, failing the test after a generous deadline.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
