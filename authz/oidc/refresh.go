package oidc

import (
	"context"
	"errors"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/authz/oidc/session"
)

// Refresh timing. The lease outlives the token call, so a lock never runs out while its holder
// may still redeem the refresh token; losers wait a little longer than a token call.
const (
	refreshTimeout = 10 * time.Second
	refreshLease   = refreshTimeout + 5*time.Second
	refreshWait    = refreshTimeout + time.Second
	refreshPoll    = 50 * time.Millisecond
	// refreshMargin is how long before expiry a token is refreshed, at most; a short-lived token
	// is refreshed in the last tenth of its lifetime instead.
	refreshMargin = 30 * time.Second
)

// tokenDeadline is when s's tokens should have been refreshed by, and whether they can be: the
// earlier of the access token's expiry and the id token's exp, less the margin. An id token kept
// from an earlier grant (a refresh returned none, as OIDC Core 12.2 allows) does not count: it
// would make every request refresh. The deadline depends on s alone, never on now, so once a
// session is due it stays due until its tokens change.
func tokenDeadline(s *session.Session, now time.Time) (time.Time, bool) {
	if s.RefreshToken == "" {
		return time.Time{}, false
	}
	issued := claimTime(s.Claims, "iat")
	exp := s.TokenExpiry
	if idExp := claimTime(s.Claims, "exp"); !s.IDTokenKept && !idExp.IsZero() && (exp.IsZero() || idExp.Before(exp)) {
		exp = idExp
	}
	if exp.IsZero() {
		return time.Time{}, false
	}
	margin := refreshMargin
	if !issued.IsZero() && exp.After(issued) {
		margin = min(margin, exp.Sub(issued)/10)
	}
	return exp.Add(-margin), true
}

// needsRefresh says whether s's tokens are due for a refresh at now.
func needsRefresh(s *session.Session, now time.Time) bool {
	d, ok := tokenDeadline(s, now)
	return ok && !now.Before(d)
}

// claimTime reads a NumericDate claim as decoded from JSON (a float64); zero when absent.
func claimTime(claims map[string]any, name string) time.Time {
	if v, ok := claims[name].(float64); ok && v > 0 {
		return time.Unix(int64(v), 0)
	}
	return time.Time{}
}

// fresh returns the session with tokens that are not about to expire, refreshing them when
// due, or nil when the session has ended (the request then goes to login, a new session).
//
// Refresh is single-flight per session, across replicas with a shared store: the winner of the
// store's lock rereads the session under it (another winner may have just refreshed), redeems
// the refresh token and stores the new tokens; the others poll the store until the tokens
// change. A rotating refresh token is so never redeemed twice, which providers answer by
// revoking the whole grant (OAuth 2.0 Security BCP §4.14.2).
func (l *Login) fresh(ctx context.Context, id string, s *session.Session) *session.Session {
	if !needsRefresh(s, l.now()) {
		return s
	}
	deadline := l.now().Add(refreshWait)
	for {
		unlock, ok, err := l.store.Lock(ctx, id, refreshLease)
		if err != nil {
			l.log.Error("session store: lock for refresh", "error", err)
			return nil
		}
		if ok {
			defer unlock()
			return l.refreshLocked(ctx, id)
		}
		t := time.NewTimer(refreshPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		cur, err := l.store.Get(ctx, id)
		switch {
		case errors.Is(err, session.ErrNotFound):
			return nil // the winner's refresh failed and ended the session
		case err != nil:
			l.log.Error("session store: get", "error", err)
			return nil
		case cur.AccessToken != s.AccessToken || !needsRefresh(cur, l.now()):
			return cur
		}
		if !l.now().Before(deadline) {
			// The winner is slow or gone (its lease will free the lock). Tokens that have not
			// expired yet still serve this request.
			if cur.TokenExpiry.IsZero() || l.now().Before(cur.TokenExpiry) {
				return cur
			}
			return nil
		}
	}
}

// refreshLocked refreshes the session's tokens while holding its lock.
func (l *Login) refreshLocked(ctx context.Context, id string) *session.Session {
	s, err := l.store.Get(ctx, id)
	switch {
	case errors.Is(err, session.ErrNotFound):
		return nil
	case err != nil:
		l.log.Error("session store: get", "error", err)
		return nil
	case !needsRefresh(s, l.now()):
		return s // refreshed meanwhile, on this replica or another
	}
	// The token call must finish even if the browser goes away: a refresh token redeemed but
	// not stored would end the session at the next request.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
	defer cancel()
	next, answered, err := l.redeem(ctx, s)
	if err != nil {
		// Once the provider answered, the refresh token may be spent: trying it again would be
		// a reuse. Only a call that never got an answer is retried, while the tokens last.
		if !answered && l.now().Before(s.TokenExpiry) {
			// The provider could not be reached; the tokens still work for now.
			l.log.Warn("token refresh failed, will retry", "sub", s.Subject, "error", err)
			return s
		}
		l.log.Warn("token refresh failed: session ended", "sub", s.Subject, "error", err)
		if err := l.store.Delete(ctx, id); err != nil {
			l.log.Error("session store: delete", "error", err)
		}
		return nil
	}
	if err := l.store.Put(ctx, id, next); err != nil {
		if !errors.Is(err, session.ErrNotFound) {
			l.log.Error("session store: put refreshed session", "error", err)
		}
		return nil
	}
	l.log.Debug("tokens refreshed", "sub", next.Subject)
	return next
}

// redeem exchanges s's refresh token for new tokens and returns the session with them;
// answered says whether the provider's token endpoint answered. A new id token is verified as
// at sign-in, and must be the same user's (OIDC Core 12.2).
func (l *Login) redeem(ctx context.Context, s *session.Session) (next *session.Session, answered bool, err error) {
	d, err := l.provider.get(ctx)
	if err != nil {
		return nil, false, err
	}
	ctx = l.provider.withClient(ctx)
	cfg := &oauth2.Config{ClientID: l.spec.ClientID, ClientSecret: l.secret, Endpoint: d.endpoint, Scopes: l.spec.Scopes}
	if cfg.Endpoint.AuthStyle == oauth2.AuthStyleAutoDetect {
		// client_secret_basic, the default token_endpoint_auth_method (OIDC Core 9), as logout's
		// revocation uses. Auto-detection would send a refused refresh token a second time.
		cfg.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	}
	tok, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: s.RefreshToken}).Token()
	if err != nil {
		var refused *oauth2.RetrieveError
		return nil, errors.As(err, &refused), err
	}
	next, err = withTokens(ctx, d, s, tok)
	return next, true, err
}

// withTokens returns s with the tokens of a refresh response.
func withTokens(ctx context.Context, d *discovered, s *session.Session, tok *oauth2.Token) (*session.Session, error) {
	next := *s
	next.AccessToken, next.TokenExpiry = tok.AccessToken, tok.Expiry
	if tok.RefreshToken != "" {
		next.RefreshToken = tok.RefreshToken
	}
	if rawID, _ := tok.Extra("id_token").(string); rawID != "" {
		idt, err := d.verifier.Verify(ctx, rawID)
		if err != nil {
			return nil, err
		}
		if idt.Subject != s.Subject || idt.Issuer != s.Issuer {
			return nil, errors.New("refreshed id token is another user's")
		}
		claims := map[string]any{}
		if err := idt.Claims(&claims); err != nil {
			return nil, err
		}
		next.IDToken, next.Claims, next.IDTokenKept = rawID, claims, false
	} else {
		next.IDTokenKept = true
	}
	return &next, nil
}
