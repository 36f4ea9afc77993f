package gateway

import "sync/atomic"

// retryBudget is Envoy's max_retries circuit breaker for one cluster: how many retries may be
// in flight at once, from the backoff before a retry until its response headers (or error).
type retryBudget struct{ inflight atomic.Int64 }

// acquire takes a slot for a retry; false when max (connectionPool.http.maxRetries) are in
// flight. A max of 0 is Istio's default, unlimited. A nil budget never limits.
func (b *retryBudget) acquire(max int32) bool {
	if b == nil || max <= 0 {
		return true
	}
	if b.inflight.Add(1) > int64(max) {
		b.inflight.Add(-1)
		return false
	}
	return true
}

// release returns the slot of a retry acquire let through.
func (b *retryBudget) release() {
	if b != nil {
		b.inflight.Add(-1)
	}
}

// clusterRetryBudget is the budget of the destination's cluster and its cap; a nil budget when
// the cluster sets no cap, so a request without one does not touch the shared counter.
func clusterRetryBudget(d *Destination) (*retryBudget, int32) {
	if d == nil || d.cluster == nil {
		return nil, 0
	}
	max := d.cluster.MaxRetries()
	if max <= 0 {
		return nil, 0
	}
	rt := d.cluster.runtime.Load()
	if rt == nil {
		return nil, 0
	}
	return &rt.retries, max
}
