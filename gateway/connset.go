package gateway

import (
	"context"
	"net"
	"sync"
)

// connSet owns the goroutines of the connections a listener serves itself: TLS handshakes in
// progress and proxied TCP, TLS and passthrough connections. HTTP connections belong to the
// listener's http.Server once handed off.
type connSet struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
	// ctx ends when the set is closed by force; dials and handshakes give up then.
	ctx    context.Context
	cancel context.CancelFunc
}

func newConnSet() *connSet {
	ctx, cancel := context.WithCancel(context.Background())
	return &connSet{conns: map[net.Conn]struct{}{}, ctx: ctx, cancel: cancel}
}

// serve runs fn for c in a goroutine the set waits for; c is closed if the set no longer takes
// connections.
func (s *connSet) serve(c net.Conn, fn func(ctx context.Context)) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = c.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer s.forget(c)
		fn(s.ctx)
	}()
}

func (s *connSet) forget(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// shutdown takes no more connections and waits for those open to end until ctx does, then
// closes what is left and waits for its goroutines.
func (s *connSet) shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
	}
	s.cancel()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	<-done
	return ctx.Err()
}
