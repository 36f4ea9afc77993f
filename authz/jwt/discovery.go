package jwt

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// discovered resolves an issuer's jwks_uri from its OpenID discovery document, for rules with
// neither jwks nor jwksUri (Istio: "Optional if the key set document can be retrieved from OpenID
// Discovery of the issuer"). Once resolved, the keys come from the shared remote for that URL.
type discovered struct {
	keys    *Keys
	issuer  string
	timeout time.Duration
	sem     chan struct{}

	mu          sync.Mutex
	remote      *remote
	lastAttempt time.Time
	lastErr     error
}

func (k *Keys) discoveredFor(issuer string, timeout time.Duration) *discovered {
	k.mu.Lock()
	d, ok := k.discovery[issuer]
	if !ok {
		d = &discovered{keys: k, issuer: issuer, timeout: timeout, sem: make(chan struct{}, 1)}
		k.discovery[issuer] = d
	}
	k.mu.Unlock()
	if !ok {
		go func() {
			ctx, cancel := context.WithTimeout(k.ctx, timeout)
			defer cancel()
			_, _ = d.resolve(ctx)
		}()
	}
	return d
}

// resolve returns the remote for the issuer's jwks_uri, running discovery at most once per
// refetch interval until it succeeds.
func (d *discovered) resolve(ctx context.Context) (*remote, error) {
	d.mu.Lock()
	r := d.remote
	d.mu.Unlock()
	if r != nil {
		return r, nil
	}
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-d.sem }()
	d.mu.Lock()
	if d.remote != nil {
		r := d.remote
		d.mu.Unlock()
		return r, nil
	}
	if !d.lastAttempt.IsZero() && d.keys.now().Sub(d.lastAttempt) < d.keys.refetch {
		err := d.lastErr
		d.mu.Unlock()
		return nil, err
	}
	d.lastAttempt = d.keys.now()
	d.mu.Unlock()

	uri, err := d.discover(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lastErr = err
	if err != nil {
		d.keys.fetchErrors.WithLabelValues(d.issuer).Inc()
		d.keys.log.Warn("oidc discovery failed", "issuer", d.issuer, "error", err)
		return nil, err
	}
	d.remote = d.keys.remoteFor(uri, d.issuer, d.timeout)
	return d.remote, nil
}

func (d *discovered) discover(ctx context.Context) (string, error) {
	client := &http.Client{Transport: transportOf(d.keys.client), Timeout: d.timeout}
	// go-oidc checks that the document's issuer is the one asked for, as OpenID Discovery requires.
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, client), d.issuer)
	if err != nil {
		return "", fmt.Errorf("openid discovery for issuer %q: %w", d.issuer, err)
	}
	var doc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := p.Claims(&doc); err != nil {
		return "", fmt.Errorf("openid discovery for issuer %q: %w", d.issuer, err)
	}
	if doc.JWKSURI == "" {
		return "", errors.New("openid discovery document for issuer " + d.issuer + " has no jwks_uri")
	}
	return doc.JWKSURI, nil
}
