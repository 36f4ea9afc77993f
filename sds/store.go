package sds

import (
	"maps"
	"slices"
	"sync"
)

// Store holds credentials by "namespace/name", grouped by the source that supplied them, so one
// source's update never disturbs another's.
type Store struct {
	mu      sync.Mutex
	sources map[string]map[string]map[string][]byte
	version uint64
	view    map[string]map[string][]byte
	watch   chan struct{} // closed and replaced on every change
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{sources: map[string]map[string]map[string][]byte{}, view: map[string]map[string][]byte{}, watch: make(chan struct{})}
}

// ReplaceSource replaces everything a source supplied with secrets (keyed "namespace/name").
// A later source does not override an earlier one's entry of the same name: sources are merged in
// name order, first wins, so the result does not depend on update timing.
func (s *Store) ReplaceSource(source string, secrets map[string]map[string][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if maps.EqualFunc(s.sources[source], secrets, func(a, b map[string][]byte) bool {
		return maps.EqualFunc(a, b, func(x, y []byte) bool { return string(x) == string(y) })
	}) && s.sources[source] != nil {
		return
	}
	s.sources[source] = secrets
	view := map[string]map[string][]byte{}
	names := slices.Sorted(maps.Keys(s.sources))
	for _, src := range names {
		for k, v := range s.sources[src] {
			if _, taken := view[k]; !taken {
				view[k] = v
			}
		}
	}
	s.view = view
	s.version++
	close(s.watch)
	s.watch = make(chan struct{})
}

// Get returns the data of a secret "namespace/name". The returned map must not be modified.
func (s *Store) Get(name string) (map[string][]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.view[name]
	return d, ok
}

// Names lists the secrets held, sorted.
func (s *Store) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.view))
}

// Version returns the store version, which increases with every change, and a channel that is
// closed at the next change.
func (s *Store) Version() (uint64, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version, s.watch
}
