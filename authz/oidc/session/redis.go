package session

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOptions configure a Redis store.
type RedisOptions struct {
	// Client is the connection (a *redis.Client, a cluster or a ring client); the store does
	// not close it.
	Client redis.UniversalClient
	// Keys encrypt every value at rest.
	Keys *KeyRing
	// Prefix starts every key, so several logins (or other tenants) can share one database.
	// Default "gatehouse:oidc:".
	Prefix    string
	Lifetimes Lifetimes
	// Now is the clock; time.Now when nil. The replicas' clocks should agree to within a
	// fraction of the idle lifetime, since each checks it against the last use another recorded.
	Now func() time.Time
}

// Redis is the Store shared by replicas. What is in Redis is useless to whoever reads a dump:
// keys are SHA-256 hashes of the session ids and states (an id never reaches Redis), and values
// are sealed by the key ring, bound to their key.
//
// A session is a hash with two fields: "v", the sealed Session, and "seen", its last use in
// Unix milliseconds, kept apart so that a use (Get) never writes the tokens back and so never
// undoes a concurrent refresh's Put. The key's expiry is the session's (Lifetimes.Expiry): the
// absolute lifetime, or the idle one sliding with each use, whichever comes first. A login
// attempt is one sealed string with the attempt's TTL.
type Redis struct {
	client    redis.UniversalClient
	keys      *KeyRing
	prefix    string
	lifetimes Lifetimes
	now       func() time.Time
}

var _ Store = (*Redis)(nil)

// NewRedis returns a store on o.Client. It does not contact Redis: the first request that needs
// it does, and a Redis that is down fails that request (closed), not the start-up.
func NewRedis(o RedisOptions) (*Redis, error) {
	if o.Client == nil || o.Keys == nil {
		return nil, errors.New("session: redis: nil client or key ring")
	}
	if o.Prefix == "" {
		o.Prefix = "gatehouse:oidc:"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Redis{client: o.Client, keys: o.Keys, prefix: o.Prefix, lifetimes: o.Lifetimes, now: o.Now}, nil
}

// key is the Redis key of a record: the kind ("s" session, "l" login attempt, "k" lock) and the
// SHA-256 of the id, which is 256 random bits: no salt is needed against guessing it back.
func (r *Redis) key(kind, id string) string {
	sum := sha256.Sum256([]byte(id))
	return r.prefix + kind + ":" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// storedSession is the sealed form of a Session; LastSeen lives in the "seen" field instead.
type storedSession struct {
	Issuer       string         `json:"iss"`
	Subject      string         `json:"sub"`
	Claims       map[string]any `json:"claims,omitempty"`
	IDToken      string         `json:"idt,omitempty"`
	AccessToken  string         `json:"at,omitempty"`
	RefreshToken string         `json:"rt,omitempty"`
	TokenExpiry  time.Time      `json:"exp,omitzero"`
	Created      time.Time      `json:"created"`
}

// touch records a use of a session that still exists, and slides its expiry; a session deleted
// meanwhile (logout) is not brought back as a bare "seen".
var touch = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'seen', ARGV[1])
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
end
return 0`)

func (r *Redis) Get(ctx context.Context, id string) (*Session, error) {
	k := r.key("s", id)
	vals, err := r.client.HMGet(ctx, k, "v", "seen").Result()
	if err != nil {
		return nil, fmt.Errorf("session: redis: get session: %w", err)
	}
	sealed, _ := vals[0].(string)
	seenText, _ := vals[1].(string)
	if sealed == "" {
		return nil, ErrNotFound
	}
	plain, err := r.keys.Open([]byte(sealed), []byte(k))
	if err != nil {
		// Sealed by a key since dropped from the ring: that session cannot be used any more.
		return nil, ErrNotFound
	}
	var st storedSession
	if err := json.Unmarshal(plain, &st); err != nil {
		return nil, fmt.Errorf("session: redis: get session: decoding: %w", err)
	}
	seenMS, _ := strconv.ParseInt(seenText, 10, 64)
	now := r.now()
	// The key's expiry already enforces both lifetimes; this check covers a replica whose clock
	// is ahead of the one that slid it.
	if exp := r.lifetimes.Expiry(st.Created, time.UnixMilli(seenMS)); !exp.IsZero() && !now.Before(exp) {
		return nil, ErrNotFound
	}
	seen := time.UnixMilli(seenMS)
	if now.Sub(seen) >= r.lifetimes.touchEvery() {
		if err := r.setSeen(ctx, k, st.Created, now); err != nil {
			return nil, fmt.Errorf("session: redis: get session: recording the use: %w", err)
		}
		seen = now
	}
	return &Session{
		Issuer: st.Issuer, Subject: st.Subject, Claims: st.Claims,
		IDToken: st.IDToken, AccessToken: st.AccessToken, RefreshToken: st.RefreshToken,
		TokenExpiry: st.TokenExpiry, Created: st.Created, LastSeen: seen,
	}, nil
}

// touchEvery is how stale the recorded last use may get before a Get records it again: a
// sixtieth of the idle lifetime, at most a minute. Recording every use would be a second round
// trip on every request; a session then ends at most that much before its idle lifetime.
func (l Lifetimes) touchEvery() time.Duration {
	if l.Idle <= 0 {
		return time.Minute
	}
	return min(l.Idle/60, time.Minute)
}

func (r *Redis) setSeen(ctx context.Context, k string, created, now time.Time) error {
	exp := r.expiryMS(created, now)
	return touch.Run(ctx, r.client, []string{k}, now.UnixMilli(), exp).Err()
}

// expiryMS is the key's expiry in Unix milliseconds; a session with no lifetimes expires after
// a year rather than never, so an abandoned one does not live in Redis for ever.
func (r *Redis) expiryMS(created, lastSeen time.Time) int64 {
	exp := r.lifetimes.Expiry(created, lastSeen)
	if exp.IsZero() {
		exp = lastSeen.Add(365 * 24 * time.Hour)
	}
	return exp.UnixMilli()
}

func (r *Redis) Put(ctx context.Context, id string, s *Session) error {
	if id == "" || s == nil {
		return fmt.Errorf("session: put: empty id or nil session")
	}
	now := r.now()
	st := storedSession{
		Issuer: s.Issuer, Subject: s.Subject, Claims: s.Claims,
		IDToken: s.IDToken, AccessToken: s.AccessToken, RefreshToken: s.RefreshToken,
		TokenExpiry: s.TokenExpiry, Created: s.Created,
	}
	if st.Created.IsZero() {
		st.Created = now
	}
	k := r.key("s", id)
	exp := r.expiryMS(st.Created, now)
	if now.UnixMilli() >= exp {
		if err := r.client.Del(ctx, k).Err(); err != nil {
			return fmt.Errorf("session: redis: put session: %w", err)
		}
		return ErrNotFound
	}
	plain, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("session: redis: put session: encoding: %w", err)
	}
	sealed := r.keys.Seal(plain, []byte(k))
	_, err = r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, k)
		p.HSet(ctx, k, "v", sealed, "seen", now.UnixMilli())
		p.PExpireAt(ctx, k, time.UnixMilli(exp))
		return nil
	})
	if err != nil {
		return fmt.Errorf("session: redis: put session: %w", err)
	}
	return nil
}

func (r *Redis) Delete(ctx context.Context, id string) error {
	if err := r.client.Del(ctx, r.key("s", id)).Err(); err != nil {
		return fmt.Errorf("session: redis: delete session: %w", err)
	}
	return nil
}

// storedLogin is the sealed form of a LoginAttempt.
type storedLogin struct {
	BrowserID    string    `json:"browser"`
	Nonce        string    `json:"nonce"`
	PKCEVerifier string    `json:"verifier"`
	ReturnTo     string    `json:"return_to"`
	Created      time.Time `json:"created"`
}

func (r *Redis) PutLogin(ctx context.Context, state string, a *LoginAttempt, ttl time.Duration) error {
	if state == "" || a == nil || ttl <= 0 {
		return fmt.Errorf("session: put login: empty state, nil attempt or non-positive ttl %s", ttl)
	}
	st := storedLogin(*a)
	if st.Created.IsZero() {
		st.Created = r.now()
	}
	plain, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("session: redis: put login attempt: encoding: %w", err)
	}
	k := r.key("l", state)
	if err := r.client.Set(ctx, k, r.keys.Seal(plain, []byte(k)), ttl).Err(); err != nil {
		return fmt.Errorf("session: redis: put login attempt: %w", err)
	}
	return nil
}

// ConsumeLogin is one GETDEL (Redis 6.2+): of callbacks racing for one state, exactly one gets
// the attempt, on any replica.
func (r *Redis) ConsumeLogin(ctx context.Context, state string) (*LoginAttempt, error) {
	k := r.key("l", state)
	sealed, err := r.client.GetDel(ctx, k).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, ErrNotFound
	case err != nil:
		return nil, fmt.Errorf("session: redis: consume login attempt: %w", err)
	}
	plain, err := r.keys.Open(sealed, []byte(k))
	if err != nil {
		return nil, ErrNotFound
	}
	var st storedLogin
	if err := json.Unmarshal(plain, &st); err != nil {
		return nil, fmt.Errorf("session: redis: consume login attempt: decoding: %w", err)
	}
	a := LoginAttempt(st)
	return &a, nil
}

// unlock deletes the lock only while it still holds our token: after our lease ran out another
// replica may hold it, and its lock is not ours to release.
var unlock = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// Lock is SET NX PX with a random token, shared by every replica on this Redis.
func (r *Redis) Lock(ctx context.Context, id string, lease time.Duration) (func(), bool, error) {
	if id == "" || lease <= 0 {
		return nil, false, fmt.Errorf("session: lock: empty id or non-positive lease %s", lease)
	}
	k, token := r.key("k", id), NewID()
	ok, err := r.client.SetNX(ctx, k, token, lease).Result()
	if err != nil {
		return nil, false, fmt.Errorf("session: redis: lock session: %w", err)
	}
	if !ok {
		return nil, false, nil
	}
	return func() {
		// The caller's context may be done by now; the release must still go out, bounded.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = unlock.Run(ctx, r.client, []string{k}, token).Err() // on failure the lease ends it
	}, true, nil
}
