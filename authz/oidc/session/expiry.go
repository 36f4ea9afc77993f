package session

import (
	"container/heap"
	"time"
)

// table is a bounded map whose entries expire. A min-heap on expiry serves both purposes: expired
// entries are at its top, and when the table is full the entry that would expire soonest is
// the one evicted (for sessions, with idle sliding, the least recently used or the oldest).
// It is not safe for concurrent use; Memory locks around it.
type table[V any] struct {
	max     int
	entries map[string]*entry[V]
	byTime  entryHeap[V]
}

type entry[V any] struct {
	key     string
	value   V
	expires time.Time
	index   int // in byTime
}

func newTable[V any](max int) *table[V] {
	return &table[V]{max: max, entries: map[string]*entry[V]{}}
}

// get returns the live entry for key; an expired one is removed.
func (t *table[V]) get(key string, now time.Time) (*entry[V], bool) {
	e, ok := t.entries[key]
	if !ok {
		return nil, false
	}
	if !now.Before(e.expires) {
		t.remove(e)
		return nil, false
	}
	return e, true
}

// put stores value under key until expires, first dropping expired entries and then, when the
// table is still full, the entries that expire soonest. It returns how many live entries it
// evicted for room.
func (t *table[V]) put(key string, value V, expires, now time.Time) (evicted int) {
	if e, ok := t.entries[key]; ok {
		e.value = value
		t.setExpiry(e, expires)
		return 0
	}
	t.sweep(now)
	for len(t.entries) >= t.max && len(t.byTime) > 0 {
		t.remove(t.byTime[0])
		evicted++
	}
	e := &entry[V]{key: key, value: value, expires: expires}
	t.entries[key] = e
	heap.Push(&t.byTime, e)
	return evicted
}

func (t *table[V]) setExpiry(e *entry[V], expires time.Time) {
	e.expires = expires
	heap.Fix(&t.byTime, e.index)
}

// take removes and returns the live entry for key.
func (t *table[V]) take(key string, now time.Time) (V, bool) {
	e, ok := t.get(key, now)
	if !ok {
		var zero V
		return zero, false
	}
	t.remove(e)
	return e.value, true
}

func (t *table[V]) delete(key string) {
	if e, ok := t.entries[key]; ok {
		t.remove(e)
	}
}

// sweep removes every entry expired at now.
func (t *table[V]) sweep(now time.Time) {
	for len(t.byTime) > 0 && !now.Before(t.byTime[0].expires) {
		t.remove(t.byTime[0])
	}
}

func (t *table[V]) remove(e *entry[V]) {
	heap.Remove(&t.byTime, e.index)
	delete(t.entries, e.key)
}

func (t *table[V]) len() int { return len(t.entries) }

// entryHeap orders entries by expiry, soonest first; ties by key keep eviction deterministic.
type entryHeap[V any] []*entry[V]

func (h entryHeap[V]) Len() int { return len(h) }
func (h entryHeap[V]) Less(i, j int) bool {
	if !h[i].expires.Equal(h[j].expires) {
		return h[i].expires.Before(h[j].expires)
	}
	return h[i].key < h[j].key
}
func (h entryHeap[V]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *entryHeap[V]) Push(x any) {
	e := x.(*entry[V])
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *entryHeap[V]) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
