package oidc

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// discovered is what the login needs from the provider's discovery document.
type discovered struct {
	endpoint   oauth2.Endpoint
	verifier   *oidc.IDTokenVerifier
	revocation string
	endSession string
}

// lazyProvider runs discovery on first need. A failure is remembered for retry, so a provider
// that is down costs one attempt per retry interval rather than one per request, and the
// gateway starts whether or not the provider answers.
type lazyProvider struct {
	name, issuer, clientID string
	client                 *http.Client
	now                    func() time.Time
	retry                  time.Duration

	mu      sync.Mutex
	got     *discovered
	err     error
	errTime time.Time
}

func newLazyProvider(name, issuer, clientID string, client *http.Client, now func() time.Time, retry time.Duration) *lazyProvider {
	return &lazyProvider{name: name, issuer: issuer, clientID: clientID, client: client, now: now, retry: retry}
}

// get returns the discovered provider. Concurrent callers wait for one discovery.
func (p *lazyProvider) get(ctx context.Context) (*discovered, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.got != nil {
		return p.got, nil
	}
	if p.err != nil && p.now().Sub(p.errTime) < p.retry {
		return nil, p.err
	}
	d, err := p.discover(ctx)
	if err != nil {
		p.err, p.errTime = err, p.now()
		return nil, err
	}
	p.got, p.err = d, nil
	return d, nil
}

func (p *lazyProvider) discover(ctx context.Context) (*discovered, error) {
	// The provider keeps the context for its key fetches later: it must not be the request's.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	prov, err := oidc.NewProvider(oidc.ClientContext(ctx, p.client), p.issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc login %s: issuer %q: discovery: %w", p.name, p.issuer, err)
	}
	var extra struct {
		Revocation string `json:"revocation_endpoint"`
		EndSession string `json:"end_session_endpoint"`
	}
	if err := prov.Claims(&extra); err != nil {
		return nil, fmt.Errorf("oidc login %s: issuer %q: discovery document: %w", p.name, p.issuer, err)
	}
	return &discovered{
		endpoint:   prov.Endpoint(),
		verifier:   prov.Verifier(&oidc.Config{ClientID: p.clientID, Now: p.now}),
		revocation: extra.Revocation,
		endSession: extra.EndSession,
	}, nil
}

// withClient carries the provider HTTP client to x/oauth2 and go-oidc calls.
func (p *lazyProvider) withClient(ctx context.Context) context.Context {
	return oidc.ClientContext(context.WithValue(ctx, oauth2.HTTPClient, p.client), p.client)
}
