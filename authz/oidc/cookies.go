package oidc

import (
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// cookieNames are the login's two cookies: the session id, and the per-browser id that login
// attempts are bound to. The second follows the first's name, so a __Host- session cookie gets
// a __Host- browser cookie.
type cookieNames struct {
	session, browser string
	domain           string
	maxAge           time.Duration
}

func newCookieNames(s policy.OIDCSession) cookieNames {
	return cookieNames{session: s.CookieName, browser: s.CookieName + "_login", domain: s.CookieDomain, maxAge: time.Duration(s.AbsoluteLifetime)}
}

// cookie builds one of ours: HttpOnly, Secure, SameSite=Lax (sent on the provider's top-level
// redirect back to the callback, not on cross-site subrequests), Path=/. A __Host- name never
// gets a Domain, which that prefix forbids (RFC 6265bis §4.1.3.2).
func (c cookieNames) cookie(name, value string, maxAge time.Duration) *http.Cookie {
	k := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode}
	if c.domain != "" && !strings.HasPrefix(name, "__Host-") {
		k.Domain = c.domain
	}
	switch {
	case maxAge > 0:
		k.MaxAge = int(maxAge / time.Second)
	case maxAge < 0:
		k.MaxAge = -1
	}
	return k
}
