package oidc

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// logout ends the session and sends the browser to the provider's end_session_endpoint, or to
// logout.redirectTo when the provider has none. It answers the same with or without a session,
// so it tells nothing about one.
func (l *Login) logout(w http.ResponseWriter, r *http.Request) {
	var idToken, revoke, hint string
	if c, err := r.Cookie(l.cookies.session); err == nil && c.Value != "" {
		if s, err := l.store.Get(r.Context(), c.Value); err == nil {
			idToken = s.IDToken
			revoke, hint = s.RefreshToken, "refresh_token"
			if revoke == "" {
				revoke, hint = s.AccessToken, "access_token"
			}
		}
		if err := l.store.Delete(r.Context(), c.Value); err != nil {
			l.log.Error("session store: delete", "error", err)
		}
	}
	http.SetCookie(w, l.cookies.cookie(l.cookies.session, "", -1))

	target := l.spec.Logout.RedirectTo
	if d, err := l.provider.get(r.Context()); err == nil {
		if d.revocation != "" && revoke != "" {
			l.revoke(r.Context(), d.revocation, revoke, hint)
		}
		if d.endSession != "" && idToken != "" {
			q := url.Values{"id_token_hint": {idToken}, "client_id": {l.spec.ClientID},
				"post_logout_redirect_uri": {absoluteOn(r, l.spec.Logout.RedirectTo)}}
			sep := "?"
			if strings.Contains(d.endSession, "?") {
				sep = "&"
			}
			target = d.endSession + sep + q.Encode()
		}
	}
	redirect(w, target)
}

// revoke asks the provider to revoke token (RFC 7009), best effort: the session is gone
// already, and a provider that is slow or down must not hold up the logout.
func (l *Login) revoke(ctx context.Context, endpoint, token, hint string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint,
		strings.NewReader(url.Values{"token": {token}, "token_type_hint": {hint}}.Encode()))
	if err != nil {
		l.log.Warn("token revocation", "error", err)
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// client_secret_basic with form-encoded id and secret (RFC 6749 §2.3.1).
	req.SetBasicAuth(url.QueryEscape(l.spec.ClientID), url.QueryEscape(l.secret))
	resp, err := l.provider.client.Do(req)
	if err != nil {
		l.log.Warn("token revocation", "error", err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		l.log.Warn("token revocation refused", "status", resp.StatusCode)
	}
}
