package session

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestRedisAtRest: what Redis holds names no session id or state and shows no token.
func TestRedisAtRest(t *testing.T) {
	t.Parallel()
	client := redisClient(t)
	s := must(NewRedis(RedisOptions{Client: client, Keys: must(NewKeyRing(testKey("k1", 1))), Lifetimes: Lifetimes{Absolute: time.Hour}}))
	ctx := t.Context()
	id, state := NewID(), NewID()
	secrets := []string{id, state, "refresh-token-value", "access-token-value", "id-token-value", "nonce-value", "verifier-value"}
	if err := s.Put(ctx, id, &Session{Subject: "alice", RefreshToken: secrets[2], AccessToken: secrets[3], IDToken: secrets[4]}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutLogin(ctx, state, &LoginAttempt{Nonce: secrets[5], PKCEVerifier: secrets[6]}, time.Minute); err != nil {
		t.Fatal(err)
	}
	unlock, _, err := s.Lock(ctx, id, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	keys, err := client.Keys(ctx, "*").Result()
	if err != nil || len(keys) != 3 {
		t.Fatalf("KEYS = %q, %v; want a session, a login attempt and a lock", keys, err)
	}
	var dump bytes.Buffer
	for _, k := range keys {
		dump.WriteString(k)
		raw, err := client.Dump(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		dump.WriteString(raw)
		if ttl := client.PTTL(ctx, k).Val(); ttl <= 0 {
			t.Errorf("key %s has no expiry (PTTL %v)", k, ttl)
		}
	}
	for _, sec := range secrets {
		if strings.Contains(dump.String(), sec) {
			t.Errorf("Redis holds %q in the clear", sec)
		}
	}
}

// TestRedisKeyRotation: sessions sealed before a rotation still open after it; what is written
// after it is sealed with the new key; dropping the old key ends the sessions it sealed.
func TestRedisKeyRotation(t *testing.T) {
	t.Parallel()
	client := redisClient(t)
	ctx := t.Context()
	open := func(keys ...Key) *Redis {
		return must(NewRedis(RedisOptions{Client: client, Keys: must(NewKeyRing(keys...))}))
	}
	before := open(testKey("k1", 1))
	if err := before.Put(ctx, "old", &Session{Subject: "alice"}); err != nil {
		t.Fatal(err)
	}
	rotated := open(testKey("k2", 2), testKey("k1", 1))
	if s, err := rotated.Get(ctx, "old"); err != nil || s.Subject != "alice" {
		t.Fatalf("old session after rotation: %+v, %v", s, err)
	}
	if err := rotated.Put(ctx, "new", &Session{Subject: "bob"}); err != nil {
		t.Fatal(err)
	}
	raw, err := client.HGet(ctx, rotated.key("s", "new"), "v").Result()
	if err != nil || !strings.HasPrefix(raw, "\x02k2") {
		t.Fatalf("new session sealed with %q, want k2", raw[:min(3, len(raw))])
	}
	if _, err := before.Get(ctx, "new"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a ring without the new key: %v, want ErrNotFound", err)
	}
	after := open(testKey("k2", 2))
	if _, err := after.Get(ctx, "old"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old key dropped: %v, want ErrNotFound", err)
	}
	if s, err := after.Get(ctx, "new"); err != nil || s.Subject != "bob" {
		t.Fatalf("new session: %+v, %v", s, err)
	}
}

// TestRedisDown: every method fails with an error (the caller fails closed), never ErrNotFound
// and never a hang past the context.
func TestRedisDown(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	defer client.Close()
	s := must(NewRedis(RedisOptions{Client: client, Keys: must(NewKeyRing(testKey("k1", 1)))}))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, getErr := s.Get(ctx, "id")
	_, consumeErr := s.ConsumeLogin(ctx, "state")
	_, _, lockErr := s.Lock(ctx, "id", time.Second)
	for name, err := range map[string]error{
		"Get": getErr, "Put": s.Put(ctx, "id", &Session{}), "Delete": s.Delete(ctx, "id"),
		"PutLogin": s.PutLogin(ctx, "state", &LoginAttempt{}, time.Minute), "ConsumeLogin": consumeErr, "Lock": lockErr,
	} {
		if err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "session: redis:") {
			t.Errorf("%s with Redis down = %v, want a session: redis: error", name, err)
		}
	}
}

// TestRedisTouchKeepsRefresh: a use (Get) racing a refresh (Put) never writes old tokens back.
func TestRedisTouchKeepsRefresh(t *testing.T) {
	t.Parallel()
	s := newTestRedis(t, Lifetimes{Absolute: time.Hour, Idle: time.Hour}, testKey("k1", 1))
	ctx := t.Context()
	if err := s.Put(ctx, "id", &Session{AccessToken: "a1"}); err != nil {
		t.Fatal(err)
	}
	stale, err := s.Get(ctx, "id")
	if err != nil {
		t.Fatal(err)
	}
	stale.AccessToken = "a2"
	if err := s.Put(ctx, "id", stale); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if got, err := s.Get(ctx, "id"); err != nil || got.AccessToken != "a2" {
			t.Fatalf("Get = %+v, %v", got, err)
		}
	}
	if err := s.Delete(ctx, "id"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "id"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after Delete: %v", err)
	}
	if n := s.client.Exists(ctx, s.key("s", "id")).Val(); n != 0 {
		t.Fatal("a use after Delete brought the key back")
	}
}

// TestRedisTouchThrottled: a Get records the use only once the recorded one is a sixtieth of
// the idle lifetime old (at most a minute), so most requests cost one round trip, not two.
func TestRedisTouchThrottled(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	start := time.Now().Truncate(time.Millisecond)
	now.Store(start.UnixMilli())
	s, err := NewRedis(RedisOptions{Client: redisClient(t), Keys: must(NewKeyRing(testKey("k1", 1))),
		Lifetimes: Lifetimes{Absolute: 24 * time.Hour, Idle: time.Hour}, Now: func() time.Time { return time.UnixMilli(now.Load()) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := s.Put(ctx, "id", &Session{Subject: "alice"}); err != nil {
		t.Fatal(err)
	}
	seen := func() string { return s.client.HGet(ctx, s.key("s", "id"), "seen").Val() }
	recorded := seen()
	for _, step := range []struct {
		after   time.Duration
		touched bool
	}{{30 * time.Second, false}, {59 * time.Second, false}, {61 * time.Second, true}, {90 * time.Second, false}} {
		now.Store(start.Add(step.after).UnixMilli())
		got, err := s.Get(ctx, "id")
		if err != nil {
			t.Fatalf("Get after %v: %v", step.after, err)
		}
		if touched := seen() != recorded; touched != step.touched {
			t.Errorf("Get after %v recorded the use: %v, want %v", step.after, touched, step.touched)
		}
		if recorded = seen(); got.LastSeen.UnixMilli() != must(strconv.ParseInt(recorded, 10, 64)) {
			t.Errorf("Get after %v: LastSeen %v, recorded %s", step.after, got.LastSeen, recorded)
		}
	}
}
