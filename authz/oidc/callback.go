package oidc

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/authz/oidc/session"
	"golang.org/x/oauth2"
)

// callback completes a login attempt: the state's record is consumed (good once), checked
// against the browser cookie, the code exchanged with the PKCE verifier, the id token verified
// (signature, iss, aud, exp by go-oidc; nonce here), and a new session started.
func (l *Login) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		writeErrorPage(w, http.StatusBadRequest, "The sign-in response has no state.")
		return
	}
	a, err := l.store.ConsumeLogin(r.Context(), state)
	switch {
	case errors.Is(err, session.ErrNotFound):
		writeErrorPage(w, http.StatusBadRequest, "This sign-in has expired or was already used.")
		return
	case err != nil:
		l.log.Error("session store: consume login attempt", "error", err)
		writeErrorPage(w, http.StatusServiceUnavailable, "Sign-in is unavailable. Try again in a moment.")
		return
	}
	c, err := r.Cookie(l.cookies.browser)
	if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(a.BrowserID)) != 1 {
		l.log.Warn("sign-in callback refused: state bound to another browser")
		writeErrorPage(w, http.StatusBadRequest, "This sign-in was started in another browser.")
		return
	}
	if e := q.Get("error"); e != "" {
		// The provider's error text is not echoed: it is attacker-controllable in the URL.
		l.log.Warn("provider refused sign-in", "error", e)
		writeErrorPage(w, http.StatusForbidden, "The sign-in provider refused the sign-in.")
		return
	}
	code := q.Get("code")
	if code == "" {
		writeErrorPage(w, http.StatusBadRequest, "The sign-in response has no code.")
		return
	}
	d, err := l.provider.get(r.Context())
	if err != nil {
		l.log.Error("sign-in unavailable", "error", err)
		writeErrorPage(w, http.StatusServiceUnavailable, "The sign-in provider cannot be reached. Try again in a moment.")
		return
	}
	ctx := l.provider.withClient(r.Context())
	tok, err := l.oauth2Config(r, d).Exchange(ctx, code, oauth2.VerifierOption(a.PKCEVerifier))
	if err != nil {
		l.log.Warn("code exchange failed", "error", err)
		writeErrorPage(w, http.StatusBadGateway, "The sign-in could not be completed. Try again.")
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		l.log.Warn("token response without id_token")
		writeErrorPage(w, http.StatusBadGateway, "The sign-in provider returned no identity.")
		return
	}
	idt, err := d.verifier.Verify(ctx, rawID)
	if err != nil {
		l.log.Warn("id token refused", "error", err)
		writeErrorPage(w, http.StatusBadGateway, "The sign-in provider returned an invalid identity.")
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(a.Nonce)) != 1 {
		l.log.Warn("id token refused: nonce mismatch")
		writeErrorPage(w, http.StatusBadRequest, "The sign-in response does not match this sign-in.")
		return
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		l.log.Warn("id token claims", "error", err)
		writeErrorPage(w, http.StatusBadGateway, "The sign-in provider returned an invalid identity.")
		return
	}
	s := &session.Session{
		Issuer: idt.Issuer, Subject: idt.Subject, Claims: claims,
		IDToken: rawID, AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, TokenExpiry: tok.Expiry,
	}
	// A new id every time, whatever cookie came in, so a planted id can never become signed in.
	if old, err := r.Cookie(l.cookies.session); err == nil && old.Value != "" {
		_ = l.store.Delete(r.Context(), old.Value)
	}
	id := session.NewID()
	if err := l.store.Put(r.Context(), id, s); err != nil {
		l.log.Error("session store: put", "error", err)
		writeErrorPage(w, http.StatusServiceUnavailable, "Sign-in is unavailable. Try again in a moment.")
		return
	}
	http.SetCookie(w, l.cookies.cookie(l.cookies.session, id, l.cookies.maxAge))
	l.log.Info("signed in", "sub", s.Subject, "after", l.now().Sub(a.Created).Round(time.Millisecond))
	target := a.ReturnTo
	if !safeReturnTo(target) {
		target = "/"
	}
	redirect(w, target)
}
