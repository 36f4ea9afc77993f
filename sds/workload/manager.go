package workload

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/sds"
)

// Source is the sds.Store source the workload credentials come in under.
const Source = "workload"

// attemptTimeout bounds one request to the CA, so a CA that accepts the connection and then
// hangs cannot stall rotation.
const attemptTimeout = 30 * time.Second

// Options configure a Manager.
type Options struct {
	// Store gets ReplaceSource(Source, items): "default" {tls.crt: leaf and intermediates,
	// tls.key} and "ROOTCA" {ca.crt: the chain's root, then the rest of the trust bundle when
	// the Signer knows it (Local)}. Required.
	Store *sds.Store
	// Signer obtains certificates. Required.
	Signer Signer
	// TTL is the validity asked of the CA; zero asks for the CA's default (its workloadCertTTL).
	TTL        time.Duration
	Logger     *slog.Logger
	Registerer prometheus.Registerer // nil registers nothing
	Now        func() time.Time      // nil is time.Now
	// MinBackoff and MaxBackoff bound the wait between failed attempts; zero is 1s and 1m.
	MinBackoff, MaxBackoff time.Duration
}

// Manager keeps the workload's certificate in the Store: it obtains one when it starts and a
// new one, with a new key, at about half of each certificate's lifetime.
type Manager struct {
	store      *sds.Store
	signer     Signer
	ttl        time.Duration
	log        *slog.Logger
	now        func() time.Time
	minBackoff time.Duration
	maxBackoff time.Duration
	metrics    *metrics
	jitter     func() float64 // in [0, 1); tests fix it

	cur atomic.Pointer[issued]
}

// issued is a certificate in force, when it arrived and when it is due for rotation.
type issued struct {
	cert     *tls.Certificate // Leaf set
	got      time.Time
	rotateAt time.Time
}

// New returns a Manager; Run makes it work.
func New(o Options) *Manager {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Minute
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	return &Manager{
		store: o.Store, signer: o.Signer, ttl: max(o.TTL, 0),
		log: o.Logger.With("component", "workload-cert"), now: o.Now,
		minBackoff: o.MinBackoff, maxBackoff: o.MaxBackoff,
		metrics: newMetrics(o.Registerer),
		jitter:  rand.Float64,
	}
}

// Current is the workload certificate in force (chain and key, Leaf set), nil before the first
// one. A Remote signer presents it to renew; it is safe to call on a nil Manager, so a Remote
// signer can be wired before the Manager exists.
func (m *Manager) Current() *tls.Certificate {
	if m == nil {
		return nil
	}
	if is := m.cur.Load(); is != nil {
		return is.cert
	}
	return nil
}

// Run obtains the first certificate and rotates it until ctx is done, then returns nil. A failed
// attempt leaves the certificate in force serving and is retried with backoff.
func (m *Manager) Run(ctx context.Context) error {
	if m.store == nil || m.signer == nil {
		return errors.New("workload certificates: a Store and a Signer are required")
	}
	watcher, _ := m.signer.(caWatcher)
	failures := 0
	for {
		var caChanged <-chan struct{}
		if watcher != nil {
			// Taken before renewing, so a change during the attempt is not missed.
			caChanged = watcher.changed()
		}
		err := m.renew(ctx)
		if ctx.Err() != nil {
			return nil
		}
		now := m.now()
		var wait time.Duration
		if err == nil {
			failures = 0
			is := m.cur.Load()
			wait = max(is.rotateAt.Sub(now), renewalSpacing(is.got, is.cert.Leaf.NotAfter, m.minBackoff))
		} else {
			failures++
			m.metrics.errors.Inc()
			wait = m.failed(err, failures, now)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		case <-caChanged:
			// A new signer or trust bundle: the certificate in force may chain to a root that is
			// leaving, and ROOTCA must carry the new one before peers present certificates from it.
			t.Stop()
			m.log.Info("the CA changed; re-issuing the workload certificate now")
			failures = 0
		}
	}
}

// failed logs the n-th consecutive failure and returns the wait before the next attempt. It is
// an error once the workload has, or is about to have, no valid certificate; a warning while the
// one in force will still be valid at the next attempt.
func (m *Manager) failed(err error, n int, now time.Time) time.Duration {
	var notAfter time.Time
	if is := m.cur.Load(); is != nil {
		notAfter = is.cert.Leaf.NotAfter
	}
	wait, expiresFirst := retryWait(n, m.minBackoff, m.maxBackoff, now, notAfter)
	attrs := []any{"error", err, "failures", n, "retryIn", wait}
	switch {
	case notAfter.IsZero():
		m.log.Error("no workload certificate yet: the CA did not issue one; the mesh identity is unavailable", attrs...)
	case expiresFirst:
		m.log.Error("workload certificate not renewed and it expires before the next attempt", append(attrs, "notAfter", notAfter)...)
	default:
		m.log.Warn("workload certificate not renewed; the current one keeps serving", append(attrs, "notAfter", notAfter)...)
	}
	return wait
}

// renew mints a new key, obtains its certificate and publishes it. On any error nothing
// changes: the certificate in force keeps serving.
func (m *Manager) renew(ctx context.Context) error {
	keyPEM, csrPEM, err := newKey(m.spiffeID())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	chain, err := m.signer.CreateCertificate(ctx, csrPEM, m.ttl)
	if err != nil {
		return fmt.Errorf("CreateCertificate: %w", err)
	}
	certsPEM, rootPEM, err := splitChain(chain)
	if err != nil {
		return err
	}
	if w, ok := m.signer.(caWatcher); ok {
		rootPEM = mergeRoots(rootPEM, w.trustBundle())
	}
	now := m.now()
	cred, warnings, err := sds.ParsePEM(certsPEM, keyPEM, rootPEM, nil, now)
	if err != nil {
		return fmt.Errorf("certificate from the CA: %w", err)
	}
	leaf := cred.Certificate.Leaf
	if err := verifyIssued(cred, now); err != nil {
		return fmt.Errorf("certificate from the CA: %w", err)
	}
	for _, w := range warnings {
		m.log.Warn("workload certificate issued with a problem", "problem", w)
	}
	is := &issued{cert: cred.Certificate, got: now, rotateAt: rotateAt(now, leaf.NotAfter, m.jitter())}
	m.store.ReplaceSource(Source, map[string]map[string][]byte{
		sds.WorkloadCertResource: {"tls.crt": certsPEM, "tls.key": keyPEM},
		sds.RootCAResource:       {"ca.crt": rootPEM},
	})
	m.cur.Store(is)
	m.metrics.rotations.Inc()
	m.metrics.expiry.Set(float64(leaf.NotAfter.Unix()))
	var ids []string
	for _, u := range leaf.URIs {
		ids = append(ids, u.String())
	}
	m.log.Info("workload certificate issued", "identity", ids, "serial", cred.Serial(), "notAfter", leaf.NotAfter, "rotateAt", is.rotateAt)
	if c, ok := m.store.Get(sds.WorkloadCertResource); !ok || c.Serial() != cred.Serial() {
		// Sources merge in name order; an earlier one naming "default" shadows this one.
		m.log.Warn("the store serves another certificate as default: a source before "+Source+" supplies that name", "serial", cred.Serial())
	}
	return nil
}

// spiffeID is the identity to ask for in the CSR: the one the Signer says it will be issued, or
// that of the certificate in force; "" when neither is known.
func (m *Manager) spiffeID() string {
	if h, ok := m.signer.(identityHint); ok {
		return h.spiffeID()
	}
	if is := m.cur.Load(); is != nil && len(is.cert.Leaf.URIs) == 1 {
		return is.cert.Leaf.URIs[0].String()
	}
	return ""
}

// verifyIssued checks what the CA returned before it replaces a working certificate: the leaf
// chains to the returned root and has not expired. One not valid yet (a CA clock slightly ahead)
// is accepted; ParsePEM has warned of it.
func verifyIssued(cred *sds.Credential, now time.Time) error {
	leaf := cred.Certificate.Leaf
	inter := x509.NewCertPool()
	for _, der := range cred.Certificate.Certificate[1:] {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return err
		}
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots: cred.Roots, Intermediates: inter, CurrentTime: later(now, leaf.NotBefore),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return fmt.Errorf("not valid under the returned root: %w", err)
	}
	return nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
