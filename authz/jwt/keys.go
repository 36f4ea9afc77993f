package jwt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults, with the Envoy/Istio fact behind each.
const (
	// DefaultRefreshInterval: Istio configures remote_jwks with cache_duration 5m.
	DefaultRefreshInterval = 5 * time.Minute
	// DefaultRefetchInterval bounds refetches triggered by an unknown kid, and retries after a
	// failed first fetch, to one per JWKS URL per 10 s: a flood of tokens with random kids costs
	// the issuer at most 6 requests a minute.
	DefaultRefetchInterval = 10 * time.Second
	// DefaultFetchTimeout is JWTRule.timeout's documented default.
	DefaultFetchTimeout = 5 * time.Second
	// DefaultVerifiedTokens bounds the verified-token cache.
	DefaultVerifiedTokens = 10000
)

// KeysOptions configures Keys. Zero values take the defaults above; Log and Registerer may be nil.
type KeysOptions struct {
	Log        *slog.Logger
	Registerer prometheus.Registerer
	// HTTPClient fetches JWKS and discovery documents. Its Timeout is replaced per rule by the
	// rule's timeout.
	HTTPClient      *http.Client
	Now             func() time.Time
	RefreshInterval time.Duration
	RefetchInterval time.Duration
	VerifiedTokens  int
}

// Keys fetches and caches JWKS documents for every jwksUri and discovered issuer any rule names.
// One Keys lives for the process and survives config reloads, so caches stay warm; compiled
// Authenticators share it.
type Keys struct {
	log      *slog.Logger
	client   *http.Client
	now      func() time.Time
	refresh  time.Duration
	refetch  time.Duration
	ctx      context.Context
	cancel   context.CancelFunc
	cache    *jwk.Cache
	verified *verifiedCache

	fetchErrors *prometheus.CounterVec

	mu        sync.Mutex
	remotes   map[string]*remote     // by JWKS URL
	discovery map[string]*discovered // by issuer
}

// NewKeys starts the background refresher; Close stops it.
func NewKeys(opts KeysOptions) *Keys {
	k := &Keys{
		log:       opts.Log,
		client:    opts.HTTPClient,
		now:       opts.Now,
		refresh:   opts.RefreshInterval,
		refetch:   opts.RefetchInterval,
		remotes:   map[string]*remote{},
		discovery: map[string]*discovered{},
	}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	if k.client == nil {
		k.client = http.DefaultClient
	}
	if k.now == nil {
		k.now = time.Now
	}
	if k.refresh <= 0 {
		k.refresh = DefaultRefreshInterval
	}
	if k.refetch <= 0 {
		k.refetch = DefaultRefetchInterval
	}
	size := opts.VerifiedTokens
	if size <= 0 {
		size = DefaultVerifiedTokens
	}
	k.verified = newVerifiedCache(size)
	k.fetchErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_jwks_fetch_errors_total",
		Help: "JWKS and OIDC discovery fetches that failed, by issuer. The last good keys keep verifying.",
	}, []string{"issuer"})
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(k.fetchErrors); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				k.fetchErrors = are.ExistingCollector.(*prometheus.CounterVec)
			} else {
				k.log.Warn("jwks metrics not registered", "error", err)
			}
		}
	}
	k.ctx, k.cancel = context.WithCancel(context.Background())
	// The refresh window is how often the queue looks for due entries; a fifth of the interval
	// keeps refreshes close to schedule.
	k.cache = jwk.NewCache(k.ctx, jwk.WithRefreshWindow(k.refresh/5), jwk.WithErrSink(errSink{k}))
	return k
}

// Close stops background refresh. Authenticators using these Keys keep verifying with the keys
// already fetched.
func (k *Keys) Close() { k.cancel() }

type errSink struct{ k *Keys }

// Error receives background refresh failures; the counter is incremented by the transport.
func (s errSink) Error(err error) {
	s.k.log.Warn("jwks background refresh failed; the last good keys stay in use", "error", err)
}

// remoteFor returns the shared fetcher for a JWKS URL, registering it with the jwk.Cache on first
// use. It does no I/O beyond starting a prefetch, so compiling config never blocks on an issuer.
func (k *Keys) remoteFor(url, issuer string, timeout time.Duration) *remote {
	k.mu.Lock()
	defer k.mu.Unlock()
	if r, ok := k.remotes[url]; ok {
		return r
	}
	r := &remote{keys: k, url: url, issuer: issuer, sem: make(chan struct{}, 1)}
	client := &http.Client{
		Transport: countingTransport{next: transportOf(k.client), count: k.fetchErrors.WithLabelValues(issuer)},
		Timeout:   timeout,
	}
	if err := k.cache.Register(url, jwk.WithHTTPClient(client), jwk.WithRefreshInterval(k.refresh)); err != nil {
		r.registerErr = err
	}
	k.remotes[url] = r
	go r.prefetch(timeout)
	return r
}

func transportOf(c *http.Client) http.RoundTripper {
	if c.Transport != nil {
		return c.Transport
	}
	return http.DefaultTransport
}

// countingTransport counts every failed JWKS or discovery request (transport error or non-2xx),
// whether a request or the background refresher made it.
type countingTransport struct {
	next  http.RoundTripper
	count prometheus.Counter
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.StatusCode < 200 || resp.StatusCode > 299 {
		t.count.Inc()
	}
	return resp, err
}

// remote is one JWKS URL's keys as this package uses them: the jwk.Cache entry, converted to a
// keySet once per fetched document.
type remote struct {
	keys        *Keys
	url, issuer string
	registerErr error
	// sem serialises fetches started by requests (first fetch, unknown-kid refetch), so that a
	// burst of requests makes one HTTP request, and waiting for it honours each request's context.
	sem chan struct{}

	mu          sync.Mutex
	src         jwk.Set // the document cur was converted from
	cur         *keySet
	lastAttempt time.Time // last fetch started by a request
	lastErr     error
}

func (r *remote) prefetch(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(r.keys.ctx, timeout)
	defer cancel()
	_, _ = r.get(ctx, false)
}

// current converts the jwk.Cache's document when it changed since the last call.
func (r *remote) current(set jwk.Set) *keySet {
	r.mu.Lock()
	defer r.mu.Unlock()
	if set != r.src || r.cur == nil {
		r.src, r.cur = set, newKeySet(set)
		if r.cur.skipped > 0 {
			r.keys.log.Info("jwks keys skipped: symmetric or unsupported keys cannot verify tokens here",
				"issuer", r.issuer, "jwks_uri", r.url, "skipped", r.cur.skipped, "usable", len(r.cur.keys))
		}
	}
	return r.cur
}

// get returns the keys, fetching them if none were fetched yet. With refetch it fetches anew
// (an unknown kid may be a rotated key), at most once per refetch interval. A request waits for
// the fetch at most until its context ends, as Envoy pauses a request while the JWKS is fetched.
func (r *remote) get(ctx context.Context, refetch bool) (*keySet, error) {
	if r.registerErr != nil {
		return nil, r.registerErr
	}
	r.mu.Lock()
	have := r.cur != nil
	r.mu.Unlock()
	if have && !refetch {
		set, err := r.keys.cache.Get(ctx, r.url)
		if err == nil {
			return r.current(set), nil
		}
	}
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return r.cached(), ctx.Err()
	}
	defer func() { <-r.sem }()

	r.mu.Lock()
	recent := !r.lastAttempt.IsZero() && r.keys.now().Sub(r.lastAttempt) < r.keys.refetch
	have, lastErr := r.cur != nil, r.lastErr
	r.mu.Unlock()
	if recent {
		// Another request fetched (or failed to) moments ago: use what it got.
		if have {
			return r.cached(), nil
		}
		return nil, lastErr
	}
	r.mu.Lock()
	r.lastAttempt = r.keys.now()
	r.mu.Unlock()

	var set jwk.Set
	var err error
	if have {
		set, err = r.keys.cache.Refresh(ctx, r.url)
	} else {
		set, err = r.keys.cache.Get(ctx, r.url)
	}
	r.mu.Lock()
	r.lastErr = err
	r.mu.Unlock()
	if err != nil {
		r.keys.log.Warn("jwks fetch failed; the last good keys stay in use",
			"issuer", r.issuer, "jwks_uri", r.url, "have_keys", have, "error", err)
		if ks := r.cached(); ks != nil {
			return ks, nil
		}
		return nil, fmt.Errorf("fetching jwks %s: %w", r.url, err)
	}
	return r.current(set), nil
}

// ready returns the current keys without waiting: the jwk.Cache's latest document (the background
// refresher may have replaced it) once a first fetch succeeded, nil before.
func (r *remote) ready() *keySet {
	if r.cached() == nil {
		return nil
	}
	// The entry holds data, so Get returns without fetching.
	set, err := r.keys.cache.Get(context.Background(), r.url)
	if err != nil {
		return r.cached()
	}
	return r.current(set)
}

func (r *remote) cached() *keySet {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur
}
