package gateway

import "math/rand/v2"

// TCPRoute is where a TCP connection, a passed-through TLS connection or the bytes of a
// terminated TLS connection go: one of Destinations, by weight. It is the route of a
// VirtualService tcp or tls block.
type TCPRoute struct {
	// Name is the metrics and log label: "namespace/virtualservice/tls[i]" or ".../tcp[i]".
	Name         string         `yaml:"name"`
	Destinations []*Destination `yaml:"route"`

	totalWeight uint32
}

// pick chooses a destination by weight; nil when the route has none.
func (r *TCPRoute) pick() *Destination { return pickDestination(r.Destinations, r.totalWeight) }

func pickDestination(ds []*Destination, total uint32) *Destination {
	switch len(ds) {
	case 0:
		return nil
	case 1:
		return ds[0]
	}
	n := rand.Uint32N(total)
	for _, d := range ds {
		if n < d.Weight {
			return d
		}
		n -= d.Weight
	}
	return ds[len(ds)-1]
}
