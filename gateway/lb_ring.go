package gateway

import (
	"slices"
	"strconv"
)

// defaultRingSize is Istio's consistentHash.minimumRingSize default.
const defaultRingSize = 1024

// hashRing is a ring hash: every endpoint owns points on a 64-bit ring in proportion to its
// weight, and a key goes to the owner of the first point at or after its hash. Points depend
// only on endpoint addresses and weights, so a Table compiled from unchanged endpoints maps
// every key as the one before it did.
type hashRing struct {
	points []ringPoint
}

type ringPoint struct {
	hash     uint64
	endpoint *Endpoint
}

func newHashRing(es []*Endpoint, size uint64) *hashRing {
	if size == 0 {
		size = defaultRingSize
	}
	total := totalWeight(es)
	r := &hashRing{}
	for _, e := range es {
		n := max(size*e.weight()/max(total, 1), 1)
		for i := range n {
			r.points = append(r.points, ringPoint{hash: hash64(e.Address + "_" + strconv.FormatUint(i, 10)), endpoint: e})
		}
	}
	slices.SortFunc(r.points, func(a, b ringPoint) int {
		switch {
		case a.hash < b.hash:
			return -1
		case a.hash > b.hash:
			return 1
		}
		return 0
	})
	return r
}

// lookup returns the owner of h, walking on past endpoints that are not usable; nil when none
// is.
func (r *hashRing) lookup(h uint64, usable func(*Endpoint) bool) *Endpoint {
	n := len(r.points)
	if n == 0 {
		return nil
	}
	i, _ := slices.BinarySearchFunc(r.points, h, func(p ringPoint, h uint64) int {
		switch {
		case p.hash < h:
			return -1
		case p.hash > h:
			return 1
		}
		return 0
	})
	for k := range n {
		if e := r.points[(i+k)%n].endpoint; usable(e) {
			return e
		}
	}
	return nil
}

// hash64 is FNV-1a followed by MurmurHash3's 64-bit finalizer: stable across processes and
// releases, unlike maphash. FNV alone leaves keys that differ in their last bytes ("user-1",
// "user-2") next to each other on the ring; the finalizer spreads them.
func hash64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
