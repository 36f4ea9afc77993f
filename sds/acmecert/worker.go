package acmecert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// failingAfter is how many consecutive failures make an issuer "failing" (error log, gauge).
const failingAfter = 3

// errLockHeld means another replica holds the certificate's lock: it is ordering.
var errLockHeld = errors.New("another replica is ordering this certificate")

// worker keeps one issuer's certificate obtained and renewed. Its state is its goroutine's.
type worker struct {
	m           *Manager
	issuer      *Issuer
	fingerprint [32]byte
	certKey     string
	log         *slog.Logger
	cancel      context.CancelFunc

	cur    *bundle      // the certificate published, nil before the first
	client *acme.Client // registered client, kept across orders; nil after a failure
}

// startWorker starts is's worker; m.mu is held.
func (m *Manager) startWorker(is *Issuer) *worker {
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{
		m: m, issuer: is, fingerprint: is.fingerprint(),
		certKey: certCacheKey(is.Spec.DirectoryURL, is.Spec.Hosts),
		log:     m.log.With("issuer", is.Name, "credentialName", is.storeName()),
		cancel:  cancel,
	}
	m.running.Add(1)
	go func() {
		defer m.running.Done()
		defer cancel()
		w.run(ctx)
	}()
	return w
}

// run serves a valid cached certificate at once (a restart orders nothing), then loops:
// sleep until renewal is due, obtain, publish; on failure back off. The last good certificate
// stays published through failures.
func (w *worker) run(ctx context.Context) {
	if b, err := w.cached(ctx); err == nil {
		w.setCurrent(b)
		w.log.Info("acme certificate loaded from cache", "serial", b.leaf.SerialNumber.Text(16), "notAfter", b.leaf.NotAfter, "renewAt", b.renewAt())
	} else if !errors.Is(err, autocert.ErrCacheMiss) {
		w.log.Warn("acme cached certificate unusable; ordering a new one", "error", err)
	}
	failures := 0
	var notBefore time.Time // no order before this: orderSpacing after the last one
	for {
		now := w.m.now()
		if w.cur != nil && now.Before(w.cur.renewAt()) {
			if !w.m.wait(ctx, w.issuer.Name, w.cur.renewAt().Sub(now), "renewal") {
				return
			}
			continue
		}
		if now.Before(notBefore) {
			if !w.m.wait(ctx, w.issuer.Name, notBefore.Sub(now), "order spacing") {
				return
			}
			continue
		}
		b, ordered, err := w.obtain(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, errLockHeld):
			if !w.m.wait(ctx, w.issuer.Name, w.m.pollInterval(), "lock held") {
				return
			}
			continue
		case err != nil:
			failures++
			w.client = nil // re-register and re-discover on the next attempt
			d := failureWait(failures, err, w.m.now(), w.m.minBackoff, w.m.maxBackoff)
			w.reportFailure(failures, d, err)
			if !w.m.wait(ctx, w.issuer.Name, d, "backoff") {
				return
			}
			continue
		}
		if failures >= failingAfter {
			w.log.Info("acme issuer recovered", "failures", failures)
		}
		failures = 0
		w.m.metrics.failing.WithLabelValues(w.issuer.Name).Set(0)
		if ordered {
			notBefore = w.m.now().Add(orderSpacing(b.leaf.NotBefore, b.leaf.NotAfter, w.m.minBackoff))
			w.log.Info("acme certificate issued", "serial", b.leaf.SerialNumber.Text(16), "hosts", w.issuer.Spec.Hosts, "notAfter", b.leaf.NotAfter, "renewAt", b.renewAt())
		} else {
			w.log.Info("acme certificate taken from cache", "serial", b.leaf.SerialNumber.Text(16), "notAfter", b.leaf.NotAfter, "renewAt", b.renewAt())
		}
		w.setCurrent(b)
	}
}

func (w *worker) setCurrent(b *bundle) {
	w.cur = b
	w.m.publish(w, b)
}

func (w *worker) reportFailure(n int, wait time.Duration, err error) {
	args := []any{"error", err, "failures", n, "retryIn", wait}
	if w.cur != nil {
		args = append(args, "servingUntil", w.cur.leaf.NotAfter)
	}
	if n >= failingAfter {
		w.m.metrics.failing.WithLabelValues(w.issuer.Name).Set(1)
		w.log.Error("acme issuer failing", args...)
		return
	}
	w.log.Warn("acme order failed", args...)
}

// cached returns the Cache's certificate when it names exactly the issuer's hosts and has not
// expired (due for renewal or not); autocert.ErrCacheMiss when there is none.
func (w *worker) cached(ctx context.Context) (*bundle, error) {
	raw, err := w.m.cache.Get(ctx, w.certKey)
	if err != nil {
		return nil, err
	}
	b, err := parseKeyAndChain(raw)
	if err != nil {
		return nil, fmt.Errorf("cache entry %s: %w", w.certKey, err)
	}
	if err := b.usableFor(w.issuer.Spec.Hosts, w.m.now()); err != nil {
		return nil, fmt.Errorf("cache entry %s: %w", w.certKey, err)
	}
	return b, nil
}

// cachedFresh is a cached certificate not yet due for renewal: one another replica (or this one
// before a restart) obtained.
func (w *worker) cachedFresh(ctx context.Context) *bundle {
	b, err := w.cached(ctx)
	if err != nil || !w.m.now().Before(b.renewAt()) {
		return nil
	}
	return b
}

// obtain returns a certificate not due for renewal: from the Cache when one is there, else by
// ordering under the certificate's Cache lock. ordered says which.
func (w *worker) obtain(ctx context.Context) (b *bundle, ordered bool, err error) {
	if b := w.cachedFresh(ctx); b != nil {
		return b, false, nil
	}
	release, ok, err := w.m.cache.Lock(ctx, w.certKey, w.m.lockTTL)
	if err != nil {
		return nil, false, fmt.Errorf("cache lock: %w", err)
	}
	if !ok {
		return nil, false, errLockHeld
	}
	defer release()
	// The previous holder may have finished between our two reads.
	if b := w.cachedFresh(ctx); b != nil {
		return b, false, nil
	}
	// The order ends before the lock expires, so no other replica takes it over mid-order.
	octx, cancel := context.WithTimeout(ctx, w.m.lockTTL*9/10)
	defer cancel()
	b, err = w.order(octx)
	if err != nil {
		if ctx.Err() == nil {
			w.m.metrics.orders.WithLabelValues(w.issuer.Name, "failed").Inc()
		}
		return nil, false, err
	}
	w.m.metrics.orders.WithLabelValues(w.issuer.Name, "ok").Inc()
	if err := w.m.cache.Put(ctx, w.certKey, b.cacheBytes()); err != nil {
		// Served anyway; a restart or another replica will order again.
		w.log.Warn("acme certificate not cached", "error", err)
	}
	return b, true, nil
}

func (w *worker) order(ctx context.Context) (*bundle, error) {
	if w.client == nil {
		c, err := w.m.newClient(ctx, w.issuer)
		if err != nil {
			return nil, err
		}
		w.client = c
	}
	return w.m.order(ctx, w.client, w.issuer)
}
