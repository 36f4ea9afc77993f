package gateway

import (
	"sync/atomic"
	"time"
)

// Cluster is an upstream service as Envoy sees it: the endpoints a ServiceEntry port resolves
// to, and how to speak to them (its DestinationRule trafficPolicy, merged for its port and
// subset).
type Cluster struct {
	// Name is Istio's, "outbound|port|subset|host".
	Name string `yaml:"name"`
	// ServiceEntry is the namespace/name that defines it.
	ServiceEntry string `yaml:"serviceEntry"`
	Resolution   string `yaml:"resolution"`
	// Location is MESH_INTERNAL when the ServiceEntry says so; empty is MESH_EXTERNAL, Istio's
	// default.
	Location string `yaml:"location,omitempty"`
	// Protocol is HTTP (HTTP/1.1), HTTP2 (h2c, or h2 by ALPN with TLS origination: HTTP2/GRPC
	// ports and h2UpgradePolicy UPGRADE) or TCP (TCP, TLS and other ports that HTTP routes reach
	// as HTTP/1.1).
	Protocol string `yaml:"protocol"`
	// DestinationRule is the namespace/name whose trafficPolicy applies, if any.
	DestinationRule  string            `yaml:"destinationRule,omitempty"`
	LoadBalancer     *LoadBalancer     `yaml:"loadBalancer,omitempty"`
	ConnectionPool   *ConnectionPool   `yaml:"connectionPool,omitempty"`
	OutlierDetection *OutlierDetection `yaml:"outlierDetection,omitempty"`
	TLS              *UpstreamTLS      `yaml:"tls,omitempty"`
	// DynamicForward is set, instead of Endpoints, for a wildcard host with DYNAMIC_DNS or NONE
	// resolution: each connection of a tls or tcp route dials its own SNI, each request of an
	// HTTP route its own authority.
	DynamicForward *DynamicForward `yaml:"dynamicForward,omitempty"`
	Endpoints      []*Endpoint     `yaml:"endpoints"`

	// weighted is set when endpoint weights differ, so balancers that can ignore them do.
	weighted bool
	// totalWeight is the sum of the endpoint weights.
	totalWeight uint64
	// ring is the consistent-hash ring, for LoadBalancer.ConsistentHash.
	ring *hashRing
	// rr is the round-robin position.
	rr atomic.Uint64
	// runtime is the state shared by every Table with the same cluster and policy: connection
	// pool, limits and outlier detection. Nil until the first request adopts it.
	runtime atomic.Pointer[clusterRuntime]
	// tlsSet is set when a DestinationRule tls applies (DISABLE included): auto mTLS does not.
	tlsSet bool
	// l4TLS is TLS for the connections of tcp and tls routes: TLS with the ALPN of a cluster no
	// HTTP filter overrides.
	l4TLS *UpstreamTLS
}

// Endpoint is one address of a cluster. Its in-flight count drives least-request balancing; it
// belongs to the Table, so after a reload the new Table's counts start from zero while requests
// on the old one finish on theirs. Its health (outlier detection) is kept by address across
// Tables.
type Endpoint struct {
	// Address is host:port, an IP for STATIC resolution or a DNS name.
	Address string `yaml:"address"`
	// Weight is the ServiceEntry endpoint's or WorkloadEntry's weight, relative; 1 when unset.
	Weight uint32 `yaml:"weight,omitempty"`
	// MeshTLS is set for an endpoint labelled security.istio.io/tlsMode: istio (it has a mesh
	// proxy), which auto mTLS reaches with ISTIO_MUTUAL.
	MeshTLS bool `yaml:"meshTLS,omitempty"`

	inflight atomic.Int64
	health   atomic.Pointer[hostHealth]
}

func (e *Endpoint) weight() uint64 { return uint64(max(e.Weight, 1)) }

// available reports whether the endpoint takes traffic: it is not ejected by outlier detection.
func (e *Endpoint) available(now time.Time) bool {
	h := e.health.Load()
	return h == nil || !h.ejected(now)
}

// MaxRetries is connectionPool.http.maxRetries, the cap on retries in flight to the cluster at
// once; 0 means Istio's default, which sets Envoy's max_retries to 2^32-1 (unlimited) rather
// than Envoy's own 3.
func (c *Cluster) MaxRetries() int32 {
	if c == nil || c.ConnectionPool == nil {
		return 0
	}
	return c.ConnectionPool.MaxRetries
}

// finish prepares what balancing needs once the endpoints are known.
func (c *Cluster) finish() {
	c.totalWeight = 0
	for _, e := range c.Endpoints {
		c.totalWeight += e.weight()
		if e.weight() != c.Endpoints[0].weight() {
			c.weighted = true
		}
	}
	if c.LoadBalancer != nil && c.LoadBalancer.ConsistentHash != nil {
		c.ring = newHashRing(c.Endpoints, c.LoadBalancer.ConsistentHash.MinimumRingSize)
	}
}
