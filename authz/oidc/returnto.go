package oidc

import (
	"net/url"
	"strings"
)

// safeReturnTo reports whether target may be where the callback sends the browser: a path on
// this site with an optional query. It must start with exactly one "/" ("//host" is
// scheme-relative), contain no backslash (browsers read "/\host" as "//host") and no control
// character or space (some strip them before parsing), and parse with no scheme or host.
func safeReturnTo(target string) bool {
	if !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "//") {
		return false
	}
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return false
		}
	}
	u, err := url.Parse(target)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && u.Opaque == ""
}
