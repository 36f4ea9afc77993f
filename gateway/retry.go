package gateway

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// RetryPolicy is a route's retry policy as Istio hands it to Envoy.
type RetryPolicy struct {
	// Attempts is Envoy's num_retries: tries after the first. Zero disables retries.
	Attempts int `yaml:"attempts"`
	// PerTryTimeout bounds each try; zero leaves only the route timeout.
	PerTryTimeout Duration `yaml:"perTryTimeout,omitempty"`
	RetryOn       []string `yaml:"retryOn,omitempty"`
	// RetriableStatusCodes are the codes retriable-status-codes retries on.
	RetriableStatusCodes []int `yaml:"retriableStatusCodes,omitempty"`
	// Backoff is the base interval of Envoy's jittered exponential backoff (25ms by default).
	Backoff Duration `yaml:"backoff,omitempty"`
	// KeepPreviousHosts lets a retry go to an endpoint already tried (retryIgnorePreviousHosts:
	// false); by default Istio asks Envoy to avoid them.
	KeepPreviousHosts bool `yaml:"keepPreviousHosts,omitempty"`

	on retryOn
}

// retryOn is the set of Envoy x-envoy-retry-on / x-envoy-retry-grpc-on conditions.
type retryOn uint32

const (
	retry5xx retryOn = 1 << iota
	retryGatewayError
	retryReset
	retryResetBeforeRequest
	retryConnectFailure
	retryEnvoyRateLimited
	retryRetriable4xx
	retryRefusedStream
	retryRetriableStatusCodes
	retryRetriableHeaders
	retryHTTP3PostConnectFailure
	retryGRPCCancelled
	retryGRPCDeadlineExceeded
	retryGRPCInternal
	retryGRPCResourceExhausted
	retryGRPCUnavailable
)

// retryConditions are the retryOn values Envoy accepts for HTTP and gRPC.
var retryConditions = map[string]retryOn{
	"5xx":                        retry5xx,
	"gateway-error":              retryGatewayError,
	"reset":                      retryReset,
	"reset-before-request":       retryResetBeforeRequest,
	"connect-failure":            retryConnectFailure,
	"envoy-ratelimited":          retryEnvoyRateLimited,
	"retriable-4xx":              retryRetriable4xx,
	"refused-stream":             retryRefusedStream,
	"retriable-status-codes":     retryRetriableStatusCodes,
	"retriable-headers":          retryRetriableHeaders,
	"http3-post-connect-failure": retryHTTP3PostConnectFailure,
	"cancelled":                  retryGRPCCancelled,
	"deadline-exceeded":          retryGRPCDeadlineExceeded,
	"internal":                   retryGRPCInternal,
	"resource-exhausted":         retryGRPCResourceExhausted,
	"unavailable":                retryGRPCUnavailable,
}

// grpcRetryCodes maps the gRPC conditions to the grpc-status values they retry.
var grpcRetryCodes = [...]struct {
	on   retryOn
	code string
}{
	{retryGRPCCancelled, "1"},
	{retryGRPCDeadlineExceeded, "4"},
	{retryGRPCResourceExhausted, "8"},
	{retryGRPCInternal, "13"},
	{retryGRPCUnavailable, "14"},
}

const (
	defaultRetryBackoff = 25 * time.Millisecond
	// hostSelectionAttempts is Istio's host_selection_retry_max_attempts: how often a retry
	// draws an endpoint before accepting one already tried.
	hostSelectionAttempts = 5
)

// defaultRetryPolicy is what Istio gives a route without retries.
var defaultRetryPolicy = mustRetryPolicy(2, "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes", []int{http.StatusServiceUnavailable})

func mustRetryPolicy(attempts int, on string, codes []int) *RetryPolicy {
	p := &RetryPolicy{Attempts: attempts, RetryOn: strings.Split(on, ","), RetriableStatusCodes: codes}
	for _, c := range p.RetryOn {
		p.on |= retryConditions[c]
	}
	return p
}

// retryPolicy is the policy in force for the route.
func (r *Route) retryPolicy() *RetryPolicy {
	if r.Retries == nil {
		return defaultRetryPolicy
	}
	return r.Retries
}

// compileRetries follows Istio's retry translation: no retries gives nil (the default policy),
// attempts 0 disables, a retryOn replaces the default conditions and its numbers become the
// retriable status codes.
func (c *compiler) compileRetries(vs *policy.Resource, field string, in *networking.HTTPRetry) *RetryPolicy {
	if in == nil {
		return nil
	}
	if in.GetAttempts() <= 0 {
		return &RetryPolicy{}
	}
	out := &RetryPolicy{
		Attempts:             int(in.GetAttempts()),
		PerTryTimeout:        Duration(in.GetPerTryTimeout().AsDuration()),
		RetryOn:              defaultRetryPolicy.RetryOn,
		RetriableStatusCodes: defaultRetryPolicy.RetriableStatusCodes,
		Backoff:              Duration(in.GetBackoff().AsDuration()),
		KeepPreviousHosts:    in.GetRetryIgnorePreviousHosts() != nil && !in.GetRetryIgnorePreviousHosts().GetValue(),
		on:                   defaultRetryPolicy.on,
	}
	if in.GetRetryOn() != "" {
		out.RetryOn, out.RetriableStatusCodes, out.on = nil, nil, 0
		for _, v := range strings.Split(in.GetRetryOn(), ",") {
			v = strings.TrimSpace(v)
			if code, err := strconv.Atoi(v); err == nil {
				out.RetriableStatusCodes = append(out.RetriableStatusCodes, code)
				continue
			}
			on, ok := retryConditions[v]
			if !ok {
				c.problems.warn(vs, field+".retryOn", "%q is not a retry condition Envoy knows: ignored", v)
				continue
			}
			out.RetryOn = append(out.RetryOn, v)
			out.on |= on
		}
		if len(out.RetriableStatusCodes) > 0 && out.on&retryRetriableStatusCodes == 0 {
			out.RetryOn = append(out.RetryOn, "retriable-status-codes")
			out.on |= retryRetriableStatusCodes
		}
	}
	return out
}

// retriableResponse reports whether an upstream response calls for another try, as Envoy's
// wouldRetryFromHeaders decides it.
func (p *RetryPolicy) retriableResponse(res *http.Response) bool {
	h := res.Header
	// An upstream Envoy that shed load asks not to be retried.
	if len(h["X-Envoy-Overloaded"]) > 0 {
		return false
	}
	code := res.StatusCode
	switch {
	case p.on&retry5xx != 0 && code >= 500,
		p.on&retryGatewayError != 0 && (code == 502 || code == 503 || code == 504),
		p.on&retryRetriable4xx != 0 && code == http.StatusConflict,
		p.on&retryRetriableStatusCodes != 0 && slices.Contains(p.RetriableStatusCodes, code),
		p.on&retryEnvoyRateLimited != 0 && len(h["X-Envoy-Ratelimited"]) > 0:
		return true
	}
	// A gRPC error without a body is "trailers-only": its status is in the headers.
	if s := h["Grpc-Status"]; len(s) > 0 {
		for _, g := range grpcRetryCodes {
			if p.on&g.on != 0 && s[0] == g.code {
				return true
			}
		}
	}
	return false
}

// retriableError reports whether a try that got no response calls for another, as Envoy's
// wouldRetryFromReset decides it: 5xx, gateway-error and reset cover every failure, including a
// per-try timeout; connect-failure and refused-stream only their own.
func (p *RetryPolicy) retriableError(err error, perTryTimedOut bool) bool {
	if p.on&(retry5xx|retryGatewayError|retryReset) != 0 {
		return true
	}
	if perTryTimedOut {
		return false
	}
	switch {
	case isDialError(err):
		return p.on&(retryConnectFailure|retryResetBeforeRequest) != 0
	case isRefusedStream(err):
		return p.on&(retryRefusedStream|retryResetBeforeRequest) != 0
	}
	return false
}

// isRefusedStream recognises an HTTP/2 REFUSED_STREAM reset; the Go HTTP/2 transport's error
// type is not exported, its text is stable.
func isRefusedStream(err error) bool {
	return err != nil && strings.Contains(err.Error(), "REFUSED_STREAM")
}

// backoff is Envoy's jittered exponential backoff before retry n (1-based): a random wait below
// (2^n - 1) × base, capped at ten times the base.
func (p *RetryPolicy) backoff(n int) time.Duration {
	base := time.Duration(p.Backoff)
	if base <= 0 {
		base = defaultRetryBackoff
	}
	limit := 10 * base
	ceil := limit
	if n < 10 {
		ceil = min(time.Duration(1<<n-1)*base, limit)
	}
	return rand.N(ceil)
}

// sleepCtx waits d, or until ctx ends; false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// errPerTryTimeout marks a try cut off by perTryTimeout; it is a deadline, answered with 504.
var errPerTryTimeout = errors.New("per-try timeout")
