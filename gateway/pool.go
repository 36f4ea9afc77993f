package gateway

import (
	"context"
	"errors"
	"sync/atomic"
)

// ConnectionPool is a DestinationRule connectionPool after merging. Zero means Istio's default:
// unlimited (Istio sets Envoy's circuit breakers to 2^32-1 when a field is unset).
type ConnectionPool struct {
	// MaxConnections caps HTTP/1.1 connections (so requests in flight) to the cluster, across its
	// endpoints.
	MaxConnections int32    `yaml:"maxConnections,omitempty"`
	ConnectTimeout Duration `yaml:"connectTimeout,omitempty"`
	// IdleTimeout is http.idleTimeout, else tcp.idleTimeout.
	IdleTimeout Duration `yaml:"idleTimeout,omitempty"`
	// MaxPendingRequests is http1MaxPendingRequests: requests that wait for a connection when
	// MaxConnections are busy. Beyond it the request overflows.
	MaxPendingRequests int32 `yaml:"http1MaxPendingRequests,omitempty"`
	// MaxRequests is http2MaxRequests: requests in flight to the cluster, whatever the protocol.
	MaxRequests int32 `yaml:"http2MaxRequests,omitempty"`
	// MaxRequestsPerConnection 1 disables keep-alive; other values are not enforced.
	MaxRequestsPerConnection int32 `yaml:"maxRequestsPerConnection,omitempty"`
	// MaxRetries is kept for the retry budget (Cluster.MaxRetries).
	MaxRetries int32 `yaml:"maxRetries,omitempty"`
	// H2Upgrade is h2UpgradePolicy UPGRADE: HTTP/1.1 ports are spoken to as h2c.
	H2Upgrade bool `yaml:"h2Upgrade,omitempty"`
}

// errOverflow is a request refused by the cluster's circuit breakers: Envoy answers 503 with
// x-envoy-overloaded and response flag UO.
var errOverflow = errors.New("upstream connection pool overflow")

// limiter is a cluster's circuit breaker on requests in flight: up to cap at once, up to
// pending more waiting for a slot, the rest overflow at once.
type limiter struct {
	slots   chan struct{}
	pending int64
	waiting atomic.Int64
}

// newLimiter returns nil (no limit) for a pool without caps on requests.
func newLimiter(p *ConnectionPool, protocol string) *limiter {
	if p == nil {
		return nil
	}
	limit := int64(p.MaxRequests)
	if protocol != "HTTP2" && p.MaxConnections > 0 && (limit == 0 || int64(p.MaxConnections) < limit) {
		// HTTP/1.1 carries one request per connection at a time.
		limit = int64(p.MaxConnections)
	}
	if limit <= 0 {
		return nil
	}
	pending := int64(p.MaxPendingRequests)
	if pending == 0 {
		pending = 1<<32 - 1
	}
	return &limiter{slots: make(chan struct{}, limit), pending: pending}
}

// acquire takes a slot, waiting in the pending queue if there is room; release gives it back.
func (l *limiter) acquire(ctx context.Context) (release func(), err error) {
	if l == nil {
		return func() {}, nil
	}
	select {
	case l.slots <- struct{}{}:
		return l.release, nil
	default:
	}
	if l.waiting.Add(1) > l.pending {
		l.waiting.Add(-1)
		return nil, errOverflow
	}
	defer l.waiting.Add(-1)
	select {
	case l.slots <- struct{}{}:
		return l.release, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *limiter) release() { <-l.slots }
