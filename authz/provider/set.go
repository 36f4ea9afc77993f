package provider

import (
	"io"
	"slices"
	"time"
)

// Has reports whether the Set holds a usable provider of that name: the authz Engine's
// CustomProviderReady.
func (s *Set) Has(name string) bool {
	_, ok := s.Lookup(name)
	return ok
}

// Names lists the Set's providers, sorted.
func (s *Set) Names() []string {
	if s == nil {
		return nil
	}
	out := make([]string, 0, len(s.byName))
	for n := range s.byName {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Retire closes the providers of s that next no longer holds, once the checks in flight on them
// can have ended: a check never outlives its provider's timeout, so they are closed after the
// longest one. Providers next kept are left open.
func (s *Set) Retire(next *Set) {
	if s == nil {
		return
	}
	var wait time.Duration
	var closers []io.Closer
	for name, p := range s.byName {
		if q, ok := next.Lookup(name); ok && q == p {
			continue
		}
		c, ok := p.(io.Closer)
		if !ok {
			continue
		}
		closers = append(closers, c)
		if t, ok := p.(interface{ timeout() time.Duration }); ok {
			wait = max(wait, t.timeout())
		}
	}
	if len(closers) == 0 {
		return
	}
	time.AfterFunc(wait, func() {
		for _, c := range closers {
			_ = c.Close()
		}
	})
}
