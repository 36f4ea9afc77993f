package h1

import (
	"context"
	"fmt"
	"time"
)

// hostKey names a host's pool: the dial address and whether it is spoken to over TLS.
type hostKey struct {
	tls  bool
	addr string
}

// hostPool is one host's connections. All its fields are guarded by Transport.mu. It leaves
// Transport.hosts as soon as it has no connection and no waiter, so that a set of hosts that
// keeps changing (dynamic forwarding) does not grow the map.
type hostPool struct {
	key hostKey
	// conns counts connections dialing, in use and idle, against MaxConnsPerHost.
	conns int
	// idle is a stack: the most recently used connection last, so that the ones the load no
	// longer needs age out at the bottom.
	idle []*conn
	// waiters wait, oldest first, for a connection or a slot under MaxConnsPerHost; a nil
	// connection sent means a slot to dial in.
	waiters []chan *conn
	// timer closes idle connections older than IdleConnTimeout; armed while idle is not empty.
	timer    *time.Timer
	timerSet bool
}

// getConn returns an idle connection of key's pool (unless fresh), or dials one when
// MaxConnsPerHost allows, or waits for either until ctx ends. With probe, an idle connection
// the upstream has visibly closed is discarded rather than returned.
func (t *Transport) getConn(ctx context.Context, key hostKey, fresh, probe bool) (*conn, error) {
	t.mu.Lock()
	hp := t.hosts[key]
	if hp == nil {
		if t.hosts == nil {
			t.hosts = map[hostKey]*hostPool{}
		}
		hp = &hostPool{key: key}
		t.hosts[key] = hp
	}
	var stale []*conn
	for !fresh && len(hp.idle) > 0 {
		n := len(hp.idle) - 1
		c := hp.idle[n]
		hp.idle[n] = nil
		hp.idle = hp.idle[:n]
		if t.IdleConnTimeout > 0 && time.Since(c.idleAt) > t.IdleConnTimeout {
			hp.conns--
			stale = append(stale, c)
			continue
		}
		t.mu.Unlock()
		closeAll(stale)
		if probe && !alive(c.nc) {
			// Its slot goes to a waiter or back; this request starts over.
			t.abandon(c, nil)
			return t.getConn(ctx, key, fresh, probe)
		}
		return c, nil
	}
	if t.MaxConnsPerHost <= 0 || hp.conns < t.MaxConnsPerHost {
		hp.conns++
		t.mu.Unlock()
		closeAll(stale)
		return t.dialConn(ctx, hp)
	}
	ch := make(chan *conn, 1)
	hp.waiters = append(hp.waiters, ch)
	t.mu.Unlock()
	closeAll(stale)
	select {
	case c := <-ch:
		if c != nil {
			return c, nil
		}
		return t.dialConn(ctx, hp)
	case <-ctx.Done():
	}
	t.mu.Lock()
	queued := false
	for i, w := range hp.waiters {
		if w == ch {
			hp.waiters = append(hp.waiters[:i], hp.waiters[i+1:]...)
			queued = true
			break
		}
	}
	t.mu.Unlock()
	if !queued {
		// Served while giving up: pass it on.
		if c := <-ch; c != nil {
			t.put(c)
		} else {
			t.releaseSlot(hp)
		}
	}
	return nil, fmt.Errorf("h1: waiting for a connection to %s: %w", key.addr, ctx.Err())
}

// dialConn dials in a slot already counted in hp.conns, and gives the slot back on failure.
func (t *Transport) dialConn(ctx context.Context, hp *hostPool) (*conn, error) {
	nc, err := t.dial(ctx, hp.key)
	if err != nil {
		t.releaseSlot(hp)
		return nil, err
	}
	return newConn(hp, nc), nil
}

// finish settles a connection whose response is complete: back to the pool when keep allows
// and the request's context never fired on it, closed otherwise.
func (t *Transport) finish(c *conn, stop func() bool, keep bool) {
	if stop != nil && !stop() {
		keep = false
	}
	// Bytes after a complete response were not asked for: the connection is out of step.
	if !keep || c.br.Buffered() > 0 {
		t.abandon(c, nil)
		return
	}
	c.reused = true
	t.put(c)
}

// abandon closes a connection that is not to be reused and frees its slot.
func (t *Transport) abandon(c *conn, stop func() bool) {
	if stop != nil {
		stop()
	}
	_ = c.nc.Close()
	t.releaseSlot(c.hp)
}

// put gives a healthy connection to the oldest waiter, or to the idle pool, or closes it when
// the pool is full.
func (t *Transport) put(c *conn) {
	hp := c.hp
	t.mu.Lock()
	if len(hp.waiters) > 0 {
		ch := hp.waiters[0]
		hp.waiters = hp.waiters[1:]
		t.mu.Unlock()
		ch <- c
		return
	}
	if len(hp.idle) >= t.maxIdle() {
		hp.conns--
		t.forgetIfEmpty(hp)
		t.mu.Unlock()
		_ = c.nc.Close()
		return
	}
	if t.IdleConnTimeout > 0 {
		c.idleAt = time.Now()
		if !hp.timerSet {
			hp.timerSet = true
			if hp.timer == nil {
				hp.timer = time.AfterFunc(t.IdleConnTimeout, func() { t.sweep(hp) })
			} else {
				hp.timer.Reset(t.IdleConnTimeout)
			}
		}
	}
	hp.idle = append(hp.idle, c)
	t.mu.Unlock()
}

// releaseSlot frees the slot of a connection closed or handed to the caller (an upgrade): to
// the oldest waiter, which dials in it, or back to the pool.
func (t *Transport) releaseSlot(hp *hostPool) {
	t.mu.Lock()
	if len(hp.waiters) > 0 {
		ch := hp.waiters[0]
		hp.waiters = hp.waiters[1:]
		t.mu.Unlock()
		ch <- nil
		return
	}
	hp.conns--
	t.forgetIfEmpty(hp)
	t.mu.Unlock()
}

// forgetIfEmpty drops a pool with nothing in it from the map. t.mu must be held.
func (t *Transport) forgetIfEmpty(hp *hostPool) {
	if hp.conns > 0 || len(hp.waiters) > 0 {
		return
	}
	if t.hosts[hp.key] == hp {
		delete(t.hosts, hp.key)
	}
	if hp.timerSet {
		hp.timer.Stop()
		hp.timerSet = false
	}
}

// sweep closes the connections idle for longer than IdleConnTimeout, from the bottom of the
// stack, and re-arms for the next one to expire.
func (t *Transport) sweep(hp *hostPool) {
	t.mu.Lock()
	if !hp.timerSet {
		t.mu.Unlock()
		return
	}
	now := time.Now()
	n := 0
	for n < len(hp.idle) && now.Sub(hp.idle[n].idleAt) >= t.IdleConnTimeout {
		n++
	}
	expired := make([]*conn, n)
	copy(expired, hp.idle)
	k := copy(hp.idle, hp.idle[n:])
	clear(hp.idle[k:])
	hp.idle = hp.idle[:k]
	hp.conns -= n
	if k > 0 {
		hp.timer.Reset(hp.idle[0].idleAt.Add(t.IdleConnTimeout).Sub(now))
	} else {
		hp.timerSet = false
	}
	t.forgetIfEmpty(hp)
	t.mu.Unlock()
	closeAll(expired)
}

// CloseIdleConnections closes every idle connection; those in use are not affected.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	var idle []*conn
	for _, hp := range t.hosts {
		idle = append(idle, hp.idle...)
		hp.conns -= len(hp.idle)
		clear(hp.idle)
		hp.idle = hp.idle[:0]
		t.forgetIfEmpty(hp)
	}
	t.mu.Unlock()
	closeAll(idle)
}

func (t *Transport) maxIdle() int {
	switch {
	case t.MaxIdleConnsPerHost > 0:
		return t.MaxIdleConnsPerHost
	case t.MaxIdleConnsPerHost < 0:
		return 0
	}
	return 2
}

func closeAll(cs []*conn) {
	for _, c := range cs {
		_ = c.nc.Close()
	}
}
