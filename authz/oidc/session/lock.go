package session

import (
	"context"
	"fmt"
	"time"
)

// memoryLock is one held session lock: whose it is (a token, so a late unlock after the lease
// ran out cannot release the next holder's) and until when.
type memoryLock struct {
	token   string
	expires time.Time
}

// Lock is the one-process form of the session lock: a map of leases under the store's mutex,
// with the same try-once and lease semantics as the Redis store's.
func (m *Memory) Lock(ctx context.Context, id string, lease time.Duration) (func(), bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if id == "" || lease <= 0 {
		return nil, false, fmt.Errorf("session: lock: empty id or non-positive lease %s", lease)
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, held := m.locks[id]; held && now.Before(l.expires) {
		return nil, false, nil
	}
	// Drop leases that ran out, so the map holds only live ones.
	for k, l := range m.locks {
		if !now.Before(l.expires) {
			delete(m.locks, k)
		}
	}
	token := NewID()
	m.locks[id] = memoryLock{token: token, expires: now.Add(lease)}
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if l, held := m.locks[id]; held && l.token == token {
			delete(m.locks, id)
		}
	}, true, nil
}
