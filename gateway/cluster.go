package gateway

import (
	"math/rand/v2"
	"sync/atomic"
)

// Cluster is an upstream service as Envoy sees it: the endpoints a ServiceEntry port resolves
// to, and how to speak to them.
type Cluster struct {
	// Name is Istio's, "outbound|port|subset|host".
	Name string `yaml:"name"`
	// ServiceEntry is the namespace/name that defines it.
	ServiceEntry string `yaml:"serviceEntry"`
	Resolution   string `yaml:"resolution"`
	// Protocol is HTTP (HTTP/1.1), HTTP2 (h2c, for HTTP2/GRPC ports) or TCP (TCP, TLS and other
	// ports that HTTP routes reach as HTTP/1.1).
	Protocol  string      `yaml:"protocol"`
	Endpoints []*Endpoint `yaml:"endpoints"`
}

// Endpoint is one address of a cluster. Its in-flight count drives least-request balancing; it
// belongs to the Table, so after a reload the new Table's counts start from zero while requests
// on the old one finish on theirs.
type Endpoint struct {
	// Address is host:port, an IP for STATIC resolution or a DNS name.
	Address string `yaml:"address"`

	inflight atomic.Int64
}

// pick chooses an endpoint as Envoy's default LEAST_REQUEST does: of two distinct endpoints
// drawn at random, the one with fewer requests in flight. Nil when there are none.
func (c *Cluster) pick() *Endpoint {
	n := len(c.Endpoints)
	switch n {
	case 0:
		return nil
	case 1:
		return c.Endpoints[0]
	}
	i := rand.IntN(n)
	j := rand.IntN(n - 1)
	if j >= i {
		j++
	}
	a, b := c.Endpoints[i], c.Endpoints[j]
	if b.inflight.Load() < a.inflight.Load() {
		return b
	}
	return a
}
