package session

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// MemoryOptions size and time a Memory store; the zero value is usable.
type MemoryOptions struct {
	// Lifetimes bound each session; zero fields are no bound, but a store always has a
	// MaxSessions bound.
	Lifetimes Lifetimes
	// MaxSessions caps the sessions held; when full, the session that would expire soonest
	// goes. Default DefaultMaxSessions.
	MaxSessions int
	// MaxLogins caps the pending login attempts, which any unauthenticated request can create;
	// when full, the attempt that would expire soonest goes. Default DefaultMaxLogins.
	MaxLogins int
	// Now is the clock; time.Now when nil. Tests inject a fake one.
	Now func() time.Time
}

// Defaults of MemoryOptions.
const (
	DefaultMaxSessions = 100_000
	DefaultMaxLogins   = 10_000
)

// Memory is the in-process Store: one replica's sessions, lost on restart. Sessions and login
// attempts are evicted when they expire or when their table is full.
type Memory struct {
	lifetimes Lifetimes
	now       func() time.Time

	mu       sync.Mutex
	sessions *table[*Session]
	logins   *table[*LoginAttempt]
	evicted  uint64
	locks    map[string]memoryLock
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory(o MemoryOptions) *Memory {
	if o.MaxSessions <= 0 {
		o.MaxSessions = DefaultMaxSessions
	}
	if o.MaxLogins <= 0 {
		o.MaxLogins = DefaultMaxLogins
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Memory{
		lifetimes: o.Lifetimes,
		now:       o.Now,
		sessions:  newTable[*Session](o.MaxSessions),
		logins:    newTable[*LoginAttempt](o.MaxLogins),
		locks:     map[string]memoryLock{},
	}
}

// farFuture stands for "no expiry" in the tables, which need a time to order by.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

func (m *Memory) expiry(s *Session) time.Time {
	if exp := m.lifetimes.Expiry(s.Created, s.LastSeen); !exp.IsZero() {
		return exp
	}
	return farFuture
}

func (m *Memory) Get(ctx context.Context, id string) (*Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.sessions.get(id, now)
	if !ok {
		return nil, ErrNotFound
	}
	e.value.LastSeen = now
	m.sessions.setExpiry(e, m.expiry(e.value))
	return e.value.clone(), nil
}

func (m *Memory) Put(ctx context.Context, id string, s *Session) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if id == "" || s == nil {
		return fmt.Errorf("session: put: empty id or nil session")
	}
	now := m.now()
	c := cloneClaims(s)
	if c.Created.IsZero() {
		c.Created = now
	}
	c.LastSeen = now
	exp := m.expiry(c)
	m.mu.Lock()
	defer m.mu.Unlock()
	if !now.Before(exp) {
		// Already past its absolute lifetime (a refresh of a session that just ran out).
		m.sessions.delete(id)
		return ErrNotFound
	}
	m.evicted += uint64(m.sessions.put(id, c, exp, now))
	return nil
}

func (m *Memory) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions.delete(id)
	return nil
}

func (m *Memory) PutLogin(ctx context.Context, state string, a *LoginAttempt, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if state == "" || a == nil || ttl <= 0 {
		return fmt.Errorf("session: put login: empty state, nil attempt or non-positive ttl %s", ttl)
	}
	now := m.now()
	c := *a
	if c.Created.IsZero() {
		c.Created = now
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.evicted += uint64(m.logins.put(state, &c, now.Add(ttl), now))
	return nil
}

func (m *Memory) ConsumeLogin(ctx context.Context, state string) (*LoginAttempt, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.logins.take(state, now)
	if !ok {
		return nil, ErrNotFound
	}
	return a, nil
}

// MemoryStats are counts for metrics and tests.
type MemoryStats struct {
	Sessions, Logins int
	// Evicted counts live entries dropped for room since the store was made.
	Evicted uint64
}

// Stats reports the live counts; entries expired but not yet swept are included.
func (m *Memory) Stats() MemoryStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return MemoryStats{Sessions: m.sessions.len(), Logins: m.logins.len(), Evicted: m.evicted}
}
