package gateway

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/gateway/h1"
	"github.com/gatehouse-dev/gatehouse/policy"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// TestUnresolvableLoggedOnce: a destination whose name does not resolve is one clear log line,
// however many requests fail on it.
func TestUnresolvableLoggedOnce(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	u := newUpstream(policy.UpstreamSettings{}, slog.New(slog.NewTextHandler(&logs, nil)), nil, nil)
	c := &Cluster{Name: "outbound|80||gone.example.com", Protocol: "HTTP"}
	rt := u.adopt(c)
	err := fmt.Errorf("dial: %w", &net.DNSError{Err: "no such host", Name: "gone.example.com", IsNotFound: true})
	for range 3 {
		dispatch{u: u}.observe(c, rt, &exchange{}, nil, err)
	}
	if n := strings.Count(logs.b.String(), "does not resolve"); n != 1 {
		t.Errorf("%d log lines, want 1:\n%s", n, logs.b.String())
	}
	if !strings.Contains(logs.b.String(), "gone.example.com") {
		t.Errorf("log does not name the host:\n%s", logs.b.String())
	}
}

// TestRuntimeKept: a Table compiled again with the same cluster and policy shares its runtime
// (pool, breaker, outlier state); a policy change starts a new one.
func TestRuntimeKept(t *testing.T) {
	t.Parallel()
	u := newUpstream(policy.UpstreamSettings{}, slog.New(slog.DiscardHandler), nil, nil)
	mk := func(max int32) *Cluster {
		c := &Cluster{Name: "outbound|80||a", Protocol: "HTTP", ConnectionPool: &ConnectionPool{MaxConnections: max},
			OutlierDetection: &OutlierDetection{Consecutive5xxErrors: 5}, Endpoints: endpoints(1, 1)}
		c.finish()
		return c
	}
	a, b, other := u.adopt(mk(1)), u.adopt(mk(1)), u.adopt(mk(2))
	if a != b {
		t.Error("same policy: a new runtime")
	}
	if a == other {
		t.Error("changed policy: the old runtime")
	}
	if h, ok := a.transport.(*h1.Transport); !ok || h.MaxConnsPerHost != 1 {
		t.Errorf("maxConnections 1: transport %+v", a.transport)
	}
}
