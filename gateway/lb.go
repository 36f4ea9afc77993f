package gateway

import (
	"math/rand/v2"
	"net/http"
	"time"
)

// LoadBalancer is a DestinationRule loadBalancer after merging.
type LoadBalancer struct {
	// Simple is ROUND_ROBIN, LEAST_REQUEST, RANDOM or PASSTHROUGH (balanced as LEAST_REQUEST at a
	// gateway, which has no original destination to pass through to). Empty with
	// ConsistentHash.
	Simple         string          `yaml:"simple,omitempty"`
	ConsistentHash *ConsistentHash `yaml:"consistentHash,omitempty"`
}

// ConsistentHash is loadBalancer.consistentHash: exactly one key source is set.
type ConsistentHash struct {
	HTTPHeaderName         string      `yaml:"httpHeaderName,omitempty"`
	HTTPCookie             *HashCookie `yaml:"httpCookie,omitempty"`
	UseSourceIP            bool        `yaml:"useSourceIp,omitempty"`
	HTTPQueryParameterName string      `yaml:"httpQueryParameterName,omitempty"`
	// MinimumRingSize is the ring's size (Istio's default 1024); the gateway always uses a ring
	// hash, also where maglev is asked for, since both map keys consistently.
	MinimumRingSize uint64 `yaml:"minimumRingSize"`
}

// HashCookie is consistentHash.httpCookie. With TTL set (zero for a session cookie) the
// gateway generates the cookie when the request has none, as Envoy does.
type HashCookie struct {
	Name string    `yaml:"name"`
	Path string    `yaml:"path,omitempty"`
	TTL  *Duration `yaml:"ttl,omitempty"`
}

func (c *Cluster) policy() string {
	if c.LoadBalancer == nil || c.LoadBalancer.Simple == "" {
		return "LEAST_REQUEST"
	}
	return c.LoadBalancer.Simple
}

// pick chooses an endpoint by the cluster's simple policy among those outlier detection has not
// ejected. Nil when there is none: Envoy's "no healthy upstream". A consistent-hash cluster
// picks again with the request in pickFor; pick then only tells whether any endpoint is up.
func (c *Cluster) pick() *Endpoint {
	if v := c.dnsView(); v != nil {
		return v.pick()
	}
	cands := c.candidates(time.Now())
	switch len(cands) {
	case 0:
		return nil
	case 1:
		return cands[0]
	}
	switch c.policy() {
	case "ROUND_ROBIN":
		n := c.rr.Add(1) - 1
		if !c.weighted {
			return cands[n%uint64(len(cands))]
		}
		return weightedAt(cands, n%totalWeight(cands))
	case "RANDOM":
		if !c.weighted {
			return cands[rand.IntN(len(cands))]
		}
		return weightedAt(cands, rand.Uint64N(totalWeight(cands)))
	}
	if c.weighted {
		// Envoy switches to weighted scheduling when weights differ: draw both by weight, so an
		// idle cluster still shares traffic in proportion to them.
		tw := totalWeight(cands)
		a, b := weightedAt(cands, rand.Uint64N(tw)), weightedAt(cands, rand.Uint64N(tw))
		if b.inflight.Load()*int64(a.weight()) < a.inflight.Load()*int64(b.weight()) {
			return b
		}
		return a
	}
	return leastRequest(cands)
}

// leastRequest is Envoy's LEAST_REQUEST: of two distinct endpoints drawn at random, the one
// with fewer requests in flight.
func leastRequest(cands []*Endpoint) *Endpoint {
	n := len(cands)
	i := rand.IntN(n)
	j := rand.IntN(n - 1)
	if j >= i {
		j++
	}
	a, b := cands[i], cands[j]
	if b.inflight.Load() < a.inflight.Load() {
		return b
	}
	return a
}

// candidates are the endpoints outlier detection lets through. Below minHealthPercent healthy
// endpoints, ejection is ignored and all take traffic (Envoy's panic mode, which Istio ties to
// minHealthPercent).
func (c *Cluster) candidates(now time.Time) []*Endpoint {
	if c.OutlierDetection == nil {
		return c.Endpoints
	}
	healthy := 0
	for _, e := range c.Endpoints {
		if e.available(now) {
			healthy++
		}
	}
	if healthy == len(c.Endpoints) || healthy*100 < len(c.Endpoints)*int(c.OutlierDetection.MinHealthPercent) {
		return c.Endpoints
	}
	out := make([]*Endpoint, 0, healthy)
	for _, e := range c.Endpoints {
		if e.available(now) {
			out = append(out, e)
		}
	}
	return out
}

func totalWeight(es []*Endpoint) uint64 {
	var t uint64
	for _, e := range es {
		t += e.weight()
	}
	return t
}

// weightedAt returns the endpoint whose weight interval holds position p.
func weightedAt(es []*Endpoint, p uint64) *Endpoint {
	for _, e := range es {
		if p < e.weight() {
			return e
		}
		p -= e.weight()
	}
	return es[len(es)-1]
}

// pickFor is the consistent-hash choice for a request, and the cookie to set when the gateway
// generated the hash key. ok=false: the cluster does not hash, keep pick's choice.
func (c *Cluster) pickFor(r *http.Request, x *exchange) (ep *Endpoint, setCookie *http.Cookie, ok bool) {
	if v := c.dnsView(); v != nil {
		return v.pickFor(r, x)
	}
	if c.ring == nil {
		return nil, nil, false
	}
	key, setCookie := hashKey(c.LoadBalancer.ConsistentHash, r, x)
	if key == "" {
		// No key: Envoy's ring hash picks at random.
		return c.pick(), nil, true
	}
	now := time.Now()
	ep = c.ring.lookup(hash64(key), func(e *Endpoint) bool { return e.available(now) })
	if ep == nil {
		// Every endpoint is ejected: pick applies the panic threshold.
		ep = c.pick()
	}
	return ep, setCookie, true
}

func hashKey(h *ConsistentHash, r *http.Request, x *exchange) (string, *http.Cookie) {
	switch {
	case h.HTTPHeaderName != "":
		return r.Header.Get(h.HTTPHeaderName), nil
	case h.UseSourceIP:
		if x != nil && x.info.RemoteIP.IsValid() {
			return x.info.RemoteIP.String(), nil
		}
		return stripPort(r.RemoteAddr), nil
	case h.HTTPQueryParameterName != "":
		return r.URL.Query().Get(h.HTTPQueryParameterName), nil
	case h.HTTPCookie != nil:
		if ck, err := r.Cookie(h.HTTPCookie.Name); err == nil && ck.Value != "" {
			return ck.Value, nil
		}
		if h.HTTPCookie.TTL == nil {
			return "", nil
		}
		value := newCookieValue()
		ck := &http.Cookie{Name: h.HTTPCookie.Name, Value: value, Path: h.HTTPCookie.Path, HttpOnly: true}
		if ttl := time.Duration(*h.HTTPCookie.TTL); ttl > 0 {
			ck.MaxAge = int((ttl + time.Second - 1) / time.Second)
		}
		return value, ck
	}
	return "", nil
}

// newCookieValue is a fresh hash key: it only spreads clients over the ring, so it needs to be
// unique, not secret.
func newCookieValue() string {
	const hexDigits = "0123456789abcdef"
	v := rand.Uint64()
	b := make([]byte, 16)
	for i := range b {
		b[i] = hexDigits[v>>(60-4*uint(i))&0xf]
	}
	return string(b)
}
