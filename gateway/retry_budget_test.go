package gateway

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-dev/gatehouse/gateway/accesslog"
)

func TestRetryBudgetAcquire(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		max      int32
		inflight int64
		want     bool
	}{
		{"unlimited by default", 0, 1000, true},
		{"room left", 2, 1, true},
		{"full", 2, 2, false},
		{"cap of one, free", 1, 0, true},
	}
	for _, tt := range tests {
		var b retryBudget
		b.inflight.Store(tt.inflight)
		if got := b.acquire(tt.max); got != tt.want {
			t.Errorf("%s: acquire(%d) with %d in flight = %v, want %v", tt.name, tt.max, tt.inflight, got, tt.want)
		}
		want := tt.inflight
		if tt.want && tt.max > 0 {
			want++
		}
		if got := b.inflight.Load(); got != want {
			t.Errorf("%s: %d in flight after acquire, want %d", tt.name, got, want)
		}
	}
	var none *retryBudget
	if !none.acquire(1) {
		t.Error("a nil budget limited a retry")
	}
	none.release()
}

// countingTripper answers every try with 503 and counts the tries.
type countingTripper struct{ tries atomic.Int32 }

func (c *countingTripper) RoundTrip(*http.Request) (*http.Response, error) {
	c.tries.Add(1)
	return &http.Response{StatusCode: http.StatusServiceUnavailable, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(""))}, nil
}

// TestRetryBudgetCapsRetries runs the retry transport against a cluster whose maxRetries
// budget is, or is not, used up by other requests: a retry over the budget is not attempted
// and the answer is the first try's, flagged UO; the budget is given back after each retry.
func TestRetryBudgetCapsRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		max       int32
		busy      int64
		wantTries int32
		wantFlag  accesslog.ResponseFlags
	}{
		{"budget used up", 1, 1, 1, accesslog.UpstreamOverflow},
		{"budget free", 1, 0, 3, accesslog.UpstreamRetryLimitExceeded},
		{"no cap", 0, 50, 3, accesslog.UpstreamRetryLimitExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ep := &Endpoint{Address: "127.0.0.1:1"}
			cl := &Cluster{Name: "outbound|80||svc.test", Endpoints: []*Endpoint{ep}, ConnectionPool: &ConnectionPool{MaxRetries: tt.max}}
			cl.finish()
			rt := &clusterRuntime{}
			rt.retries.inflight.Store(tt.busy)
			cl.runtime.Store(rt)
			d := &Destination{Cluster: cl.Name, Weight: 1, cluster: cl}
			route := &Route{Retries: &RetryPolicy{Attempts: 2, Backoff: Duration(1), on: retry5xx}}
			x := &exchange{route: route, destination: d, endpoint: ep}
			state := &routeState{}
			ctx := context.WithValue(context.WithValue(t.Context(), exchangeKey{}, x), routeStateKey{}, state)
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ep.Address+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			next := &countingTripper{}
			res, err := (&retryTransport{next: next}).RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = res.Body.Close()
			if got := next.tries.Load(); got != tt.wantTries {
				t.Errorf("%d tries, want %d", got, tt.wantTries)
			}
			if got := accesslog.ResponseFlags(state.flags.Load()); got&tt.wantFlag == 0 {
				t.Errorf("flags %v, want %v set", got, tt.wantFlag)
			}
			if got := rt.retries.inflight.Load(); got != tt.busy {
				t.Errorf("%d retries in flight after the request, want the %d of others", got, tt.busy)
			}
		})
	}
}
