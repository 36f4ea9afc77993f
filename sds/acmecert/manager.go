package acmecert

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/sds"
)

// Source is the sds.Store source name the Manager's certificates come in under.
const Source = "acme"

// Issuer is one ACMEIssuer resolved for issuing.
type Issuer struct {
	Name      string // namespace/name, for logs and metrics labels
	Namespace string // where the credential goes: store name Namespace+"/"+Spec.CredentialName
	Spec      policy.ACMEIssuer
	EABKey    []byte // decoded HMAC key when Spec.ExternalAccountBinding is set
}

// storeName is where the issuer's certificate goes in the sds.Store.
func (is *Issuer) storeName() string { return is.Namespace + "/" + is.Spec.CredentialName }

// fingerprint identifies everything a worker depends on: an Apply with an equal fingerprint
// keeps the running worker, its certificate and its backoff.
func (is *Issuer) fingerprint() [32]byte {
	raw, _ := json.Marshal(struct {
		Name, Namespace string
		Spec            policy.ACMEIssuer
		EABKey          []byte
	}{is.Name, is.Namespace, is.Spec, is.EABKey})
	return sha256.Sum256(raw)
}

// Options configure a Manager.
type Options struct {
	// Store gets every current certificate with ReplaceSource(Source, items): items keyed
	// "ns/credentialName", data {"tls.crt": chain PEM, "tls.key": key PEM}.
	Store *sds.Store
	// Cache keeps account keys, certificates, pending challenges and locks; required.
	Cache      Cache
	Logger     *slog.Logger
	Registerer prometheus.Registerer // nil registers nothing
	Now        func() time.Time      // nil is time.Now
	// MinBackoff and MaxBackoff bound the wait between failed attempts; zero is 2m and 12h.
	MinBackoff, MaxBackoff time.Duration
	// LockTTL is how long an order may hold a certificate's Cache lock; zero is 10m. An order
	// is cancelled at LockTTL, so no replica works on behind an expired lock.
	LockTTL time.Duration
}

// Manager runs one worker per issuer; each obtains its certificate (from the Cache when a
// valid one is there, else by ordering), renews it, and publishes it to the Store.
type Manager struct {
	store      *sds.Store
	cache      Cache
	log        *slog.Logger
	now        func() time.Time
	minBackoff time.Duration
	maxBackoff time.Duration
	lockTTL    time.Duration
	metrics    *metrics
	challenges *challenges
	accountMu  sync.Mutex
	running    sync.WaitGroup // every worker started, replaced ones included

	// waitHook, when set (tests), is told of every wait a worker starts.
	waitHook func(issuer string, d time.Duration, why string)

	mu      sync.Mutex
	closed  bool
	workers map[string]*worker       // issuer name -> its worker
	items   map[string]publishedCert // issuer name -> what it put in the store
}

// publishedCert is one issuer's store item.
type publishedCert struct {
	storeName string
	data      map[string][]byte
}

// New returns a Manager with no issuers; Apply gives it some.
func New(o Options) *Manager {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 2 * time.Minute
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 12 * time.Hour
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	if o.LockTTL <= 0 {
		o.LockTTL = 10 * time.Minute
	}
	return &Manager{
		store: o.Store, cache: o.Cache, log: o.Logger.With("component", "acme"), now: o.Now,
		minBackoff: o.MinBackoff, maxBackoff: o.MaxBackoff, lockTTL: o.LockTTL,
		metrics:    newMetrics(o.Registerer),
		challenges: newChallenges(o.Cache),
		workers:    map[string]*worker{},
		items:      map[string]publishedCert{},
	}
}

// Apply makes issuers the current set. It is idempotent: an issuer whose Name, Spec and EAB key
// are unchanged keeps its worker; a changed one gets a new worker (in-flight order
// cancelled); a removed one stops and its credential leaves the store.
func (m *Manager) Apply(issuers []Issuer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	hosts := map[string]bool{}
	next := map[string]*Issuer{}
	for i := range issuers {
		is := issuers[i]
		is.Spec.Hosts = slices.Clone(is.Spec.Hosts)
		// Decoding fills the default; an Issuer built elsewhere (tests, a future source) may not.
		if len(is.Spec.Challenges) == 0 {
			is.Spec.Challenges = policy.DefaultACMEChallenges
		}
		is.Spec.Challenges = slices.Clone(is.Spec.Challenges)
		next[is.Name] = &is
		for _, h := range is.Spec.Hosts {
			hosts[h] = true
		}
	}
	// Hosts first: a new worker's challenges must be answerable as soon as it orders.
	m.challenges.setHosts(hosts)

	var stopped []*worker
	for name, w := range m.workers {
		is, keep := next[name]
		if keep && is.fingerprint() == w.fingerprint {
			continue
		}
		stopped = append(stopped, w)
		delete(m.workers, name)
		if !keep {
			delete(m.items, name)
			m.metrics.forget(name)
			m.log.Info("acme issuer removed", "issuer", name)
		} else if item, ok := m.items[name]; ok && (item.storeName != is.storeName() ||
			certCacheKey(is.Spec.DirectoryURL, is.Spec.Hosts) != w.certKey) {
			// A different certificate: the old one no longer stands for this issuer.
			delete(m.items, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(next)) {
		if _, running := m.workers[name]; running {
			continue
		}
		m.workers[name] = m.startWorker(next[name])
	}
	for _, w := range stopped {
		w.cancel()
	}
	m.publishLocked()
}

// Close stops every worker, cancelling in-flight orders, and waits for them. Idempotent. The
// certificates stay in the store.
func (m *Manager) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	workers := slices.Collect(maps.Values(m.workers))
	m.workers = map[string]*worker{}
	m.mu.Unlock()
	for _, w := range workers {
		w.cancel()
	}
	m.running.Wait()
}

// publish records w's certificate and hands the store every current certificate at once.
func (m *Manager) publish(w *worker, b *bundle) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.workers[w.issuer.Name] != w {
		return // replaced or removed meanwhile: its certificate is no longer wanted
	}
	m.items[w.issuer.Name] = publishedCert{storeName: w.issuer.storeName(), data: b.secretData()}
	m.metrics.expiry.WithLabelValues(w.issuer.Name).Set(float64(b.leaf.NotAfter.Unix()))
	m.publishLocked()
}

// publishLocked replaces the Source's items. Were two issuers to name one credential (policy
// validation refuses it), the first by issuer name keeps it.
func (m *Manager) publishLocked() {
	if m.store == nil {
		return
	}
	items := map[string]map[string][]byte{}
	for _, name := range slices.Sorted(maps.Keys(m.items)) {
		it := m.items[name]
		if _, taken := items[it.storeName]; !taken {
			items[it.storeName] = it.data
		}
	}
	m.store.ReplaceSource(Source, items)
}

// wait blocks for d or until ctx is done, reporting whether the full wait passed.
func (m *Manager) wait(ctx context.Context, issuer string, d time.Duration, why string) bool {
	if m.waitHook != nil {
		m.waitHook(issuer, d, why)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// pollInterval is how often a replica that found a certificate's lock taken re-reads the Cache
// for the holder's certificate: often enough to pick it up soon, bounded by MinBackoff so a
// test's tiny backoff keeps tests quick.
func (m *Manager) pollInterval() time.Duration { return min(m.minBackoff, 5*time.Second) }
