package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/gateway/accesslog"
)

// retryTransport is the RoundTripper under the ReverseProxy: it runs the route's retry policy
// and per-try timeout. Every decision is taken before the ReverseProxy writes a byte
// downstream, so a retry never follows a response the client has begun to receive.
type retryTransport struct{ next http.RoundTripper }

// discardLimit is how much of a failed try's body is drained so its connection can be reused.
const discardLimit = 64 << 10

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	x := exchangeFrom(req.Context())
	if x == nil || x.route == nil {
		return t.next.RoundTrip(req)
	}
	p := x.route.retryPolicy()
	upgrade := len(req.Header["Upgrade"]) > 0
	retries := p.Attempts
	var body *replayBody
	if retries > 0 && req.Body != nil && req.Body != http.NoBody {
		if req.ContentLength > retryBufferLimit {
			retries = 0
		} else {
			body = newReplayBody(req.Body)
		}
	}
	ctx := req.Context()
	budget, maxRetries := clusterRetryBudget(x.destination)
	var tried []*Endpoint
	for n := 0; ; n++ {
		try := *req
		if body != nil {
			rc, ok := body.next()
			if !ok {
				if n > 0 {
					budget.release()
				}
				return nil, fmt.Errorf("retry %d: %w", n, errBodyNotReplay)
			}
			try.Body = rc
		}
		var held *Endpoint
		if n > 0 {
			held = x.endpoint
			held.inflight.Add(1)
		}
		res, err, perTryTimedOut := t.try(&try, time.Duration(p.PerTryTimeout), upgrade)
		if held != nil {
			res, err = counted(held, res, err)
		}
		if n > 0 {
			budget.release()
		}
		retriable := ctx.Err() == nil && (err == nil && p.retriableResponse(res) || err != nil && p.retriableError(err, perTryTimedOut))
		again := retriable && n < retries && body.replayable()
		// A retry over the cluster's budget is not attempted: the client gets this try's
		// answer, flagged UO, as from Envoy's retry circuit breaker.
		overflow := again && !budget.acquire(maxRetries)
		if !again || overflow {
			switch {
			case overflow:
				setFlags(ctx, accesslog.UpstreamOverflow)
			case retriable && n > 0:
				setFlags(ctx, accesslog.UpstreamRetryLimitExceeded)
			}
			if err != nil && (perTryTimedOut || errors.Is(err, context.DeadlineExceeded)) {
				setFlags(ctx, accesslog.UpstreamRequestTimeout)
			}
			return res, err
		}
		if res != nil {
			_, _ = io.CopyN(io.Discard, res.Body, discardLimit)
			_ = res.Body.Close()
		}
		if !sleepCtx(ctx, p.backoff(n+1)) {
			budget.release()
			return nil, ctx.Err()
		}
		tried = append(tried, x.endpoint)
		if ep := retryEndpoint(x.destination.cluster, tried, p.KeepPreviousHosts); ep != nil && ep != x.endpoint {
			x.endpoint = ep
			u := *req.URL
			u.Host = ep.Address
			req.URL = &u
		}
	}
}

// counted holds a retry's endpoint in flight until its response is done with; the first try's
// is held by the handler.
func counted(ep *Endpoint, res *http.Response, err error) (*http.Response, error) {
	if err != nil {
		ep.inflight.Add(-1)
		return nil, err
	}
	res.Body = &cancelBody{ReadCloser: res.Body, cancel: func() { ep.inflight.Add(-1) }}
	return res, nil
}

// try sends one attempt under its per-try timeout. The timeout keeps running while the body
// is read, as Envoy's does; an upgraded connection is not bounded by it.
func (t *retryTransport) try(req *http.Request, perTry time.Duration, upgrade bool) (*http.Response, error, bool) {
	if perTry <= 0 || upgrade {
		res, err := t.next.RoundTrip(req)
		return res, err, false
	}
	ctx, cancel := context.WithTimeoutCause(req.Context(), perTry, errPerTryTimeout)
	res, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		timedOut := context.Cause(ctx) == errPerTryTimeout
		cancel()
		if timedOut {
			err = fmt.Errorf("%w %v: %w", errPerTryTimeout, perTry, context.DeadlineExceeded)
		}
		return nil, err, timedOut
	}
	res.Body = &cancelBody{ReadCloser: res.Body, cancel: cancel}
	return res, nil, false
}

// cancelBody ends a try's context when the ReverseProxy is done with its body.
type cancelBody struct {
	io.ReadCloser
	once   sync.Once
	cancel func()
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.cancel)
	return err
}

// Write keeps an upgraded (101) body writable, as ReverseProxy needs for WebSocket.
func (b *cancelBody) Write(p []byte) (int, error) {
	w, ok := b.ReadCloser.(io.Writer)
	if !ok {
		return 0, errors.New("upstream body is not writable")
	}
	return w.Write(p)
}

// replayable reports whether another try can send the body again; a request without a body
// always can.
func (b *replayBody) replayable() bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.overflow
}

// retryEndpoint draws the endpoint for a retry, avoiding those already tried as Istio's
// previous_hosts predicate does, unless the cluster has no other.
func retryEndpoint(c *Cluster, tried []*Endpoint, keepPrevious bool) *Endpoint {
	if c == nil {
		return nil
	}
	var ep *Endpoint
	for range hostSelectionAttempts {
		if ep = c.pick(); ep == nil || keepPrevious || !slices.Contains(tried, ep) {
			return ep
		}
	}
	return ep
}
