package oidc

import (
	"net/http"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/authz/oidc/session"
)

// oauth2Config is the client configuration for one request's host.
func (l *Login) oauth2Config(r *http.Request, d *discovered) *oauth2.Config {
	return &oauth2.Config{
		ClientID: l.spec.ClientID, ClientSecret: l.secret,
		Endpoint: d.endpoint, RedirectURL: l.redirectURI(r), Scopes: l.spec.Scopes,
	}
}

// browserID returns the per-browser id the request carries, or a new one set on w.
func (l *Login) browserID(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(l.cookies.browser); err == nil && len(c.Value) == len(session.NewID()) {
		return c.Value
	}
	id := session.NewID()
	// No Max-Age: it lives as long as the browser session; tabs share it.
	http.SetCookie(w, l.cookies.cookie(l.cookies.browser, id, 0))
	return id
}

// startLogin records a login attempt under a fresh state and sends the browser to the
// provider's authorization endpoint.
func (l *Login) startLogin(w http.ResponseWriter, r *http.Request) {
	browser := l.browserID(w, r)
	if !l.loops.allow(browser, l.now()) {
		l.log.Warn("sign-in redirect loop stopped", "path", r.URL.Path)
		writeErrorPage(w, http.StatusTooManyRequests,
			"Too many sign-in attempts in a short time. If this repeats, this site's session cookie is not kept: check that cookies are allowed and that the site is served over HTTPS.")
		return
	}
	d, err := l.provider.get(r.Context())
	if err != nil {
		l.log.Error("sign-in unavailable", "error", err)
		writeErrorPage(w, http.StatusServiceUnavailable, "The sign-in provider cannot be reached. Try again in a moment.")
		return
	}
	returnTo := r.URL.RequestURI()
	if !safeReturnTo(returnTo) {
		returnTo = "/"
	}
	state, nonce, verifier := session.NewID(), session.NewID(), oauth2.GenerateVerifier()
	a := &session.LoginAttempt{BrowserID: browser, Nonce: nonce, PKCEVerifier: verifier, ReturnTo: returnTo, Created: l.now()}
	if err := l.store.PutLogin(r.Context(), state, a, l.loginTTL); err != nil {
		l.log.Error("session store: put login attempt", "error", err)
		writeErrorPage(w, http.StatusServiceUnavailable, "Sign-in is unavailable. Try again in a moment.")
		return
	}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}
	if l.spec.Prompt != "" {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", l.spec.Prompt))
	}
	redirect(w, l.oauth2Config(r, d).AuthCodeURL(state, opts...))
}
