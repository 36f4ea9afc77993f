package session

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"maps"
	"time"
)

// ErrNotFound is returned for an id or state that is unknown, expired, evicted or already
// consumed. Callers treat all alike: the browser goes back to login.
var ErrNotFound = errors.New("session: not found")

// Session is one signed-in browser. Stores return copies: changing one changes nothing stored
// until it is Put again. Claims is shared between copies and must be treated as read-only.
type Session struct {
	// Issuer and Subject identify the user; request.auth.principal is Issuer + "/" + Subject.
	Issuer  string
	Subject string
	// Claims are the verified id token's claims, as decoded from its JSON.
	Claims       map[string]any
	IDToken      string
	AccessToken  string
	RefreshToken string
	// TokenExpiry is when the access token expires; zero when the provider gave no expiry.
	TokenExpiry time.Time
	// IDTokenKept is set when the last refresh returned no id token (OIDC Core 12.2 allows it):
	// IDToken and Claims are from an earlier grant, so their exp no longer says when to refresh.
	IDTokenKept bool
	// Created is the sign-in time, which the absolute lifetime counts from; a store sets it on
	// the first Put when zero.
	Created time.Time
	// LastSeen is the last use, which the idle lifetime counts from; a store sets it on Put and
	// on Get (the Redis store only once the recorded use is a sixtieth of the idle lifetime old).
	LastSeen time.Time
}

func (s *Session) clone() *Session {
	c := *s
	return &c
}

// LoginAttempt is the server-side record of one authorization request, from the redirect to the
// provider until its callback. Each attempt has its own record, so several tabs can sign in at
// once, and a record is consumed once, so a replayed state is refused.
type LoginAttempt struct {
	// BrowserID is the value of the per-browser random cookie the attempt is bound to: a
	// callback whose cookie differs is someone else's state.
	BrowserID string
	// Nonce is the id token's expected nonce claim.
	Nonce string
	// PKCEVerifier is the code_verifier whose S256 challenge went to the provider.
	PKCEVerifier string
	// ReturnTo is the same-site URL to go back to after the callback.
	ReturnTo string
	Created  time.Time
}

// Store holds sessions and login attempts. Implementations are safe for concurrent use, and
// every method may block on the network (a shared store), so each takes a context and may fail
// with errors other than ErrNotFound.
type Store interface {
	// Get returns the session with this id, or ErrNotFound. A Get is a use: the idle lifetime
	// starts again from now, never beyond the absolute lifetime.
	Get(ctx context.Context, id string) (*Session, error)
	// Put stores s under id, replacing any session there (as a token refresh does). It keeps
	// s.Created when set and sets LastSeen to now. It fails with ErrNotFound, storing nothing,
	// when s is already past its absolute lifetime: that session has ended.
	Put(ctx context.Context, id string, s *Session) error
	// Delete removes the session; deleting an unknown id is not an error.
	Delete(ctx context.Context, id string) error

	// PutLogin stores a login attempt under its state for ttl.
	PutLogin(ctx context.Context, state string, a *LoginAttempt, ttl time.Duration) error
	// ConsumeLogin removes and returns the attempt stored under state, or ErrNotFound: a state
	// is good for one callback. It removes the attempt even when the caller then refuses it
	// (a foreign BrowserID), so a leaked state cannot be tried twice.
	ConsumeLogin(ctx context.Context, state string) (*LoginAttempt, error)

	// Lock tries once, without waiting, to take the session's lock for lease: ok is false when
	// another holder (in this process or, with a shared store, another replica) has it. The
	// lease bounds a holder that dies; it must outlive the work done under the lock. unlock
	// releases it only if it is still ours (the lease has not run out and been taken since);
	// it is safe to call more than once. Token refresh uses it to redeem a refresh token once.
	Lock(ctx context.Context, id string, lease time.Duration) (unlock func(), ok bool, err error)
}

// Lifetimes bound a session: Absolute from sign-in, Idle from the last use.
type Lifetimes struct {
	Absolute time.Duration
	Idle     time.Duration
}

// Expiry is when a session created and last seen at these times expires: the earlier of the two
// bounds. A zero lifetime is no bound.
func (l Lifetimes) Expiry(created, lastSeen time.Time) time.Time {
	var exp time.Time
	if l.Absolute > 0 {
		exp = created.Add(l.Absolute)
	}
	if l.Idle > 0 {
		if idle := lastSeen.Add(l.Idle); exp.IsZero() || idle.Before(exp) {
			exp = idle
		}
	}
	return exp
}

// IDBytes is the entropy of an id: 256 bits, far beyond guessing at any request rate.
const IDBytes = 32

// NewID returns a random id for a session, a state, a nonce or a browser cookie: IDBytes from
// crypto/rand, base64url without padding (43 characters, safe in cookies and query strings).
func NewID() string {
	var b [IDBytes]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand.Read crashes the program instead)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// cloneClaims is used by stores that must not share the caller's map (Put), so a caller
// changing its map afterwards changes nothing stored.
func cloneClaims(s *Session) *Session {
	c := s.clone()
	c.Claims = maps.Clone(s.Claims)
	return c
}
