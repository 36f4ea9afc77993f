package oidc

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/authz/oidc/session"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// headerMapping turns a session's claims into the identity headers sent upstream.
type headerMapping struct {
	spec policy.OIDCHeaders
	// userID and groups are the canonical header names; empty when not configured.
	userID, groups string
}

func newHeaderMapping(h policy.OIDCHeaders) headerMapping {
	m := headerMapping{spec: h}
	if h.UserID.Name != "" {
		m.userID = http.CanonicalHeaderKey(h.UserID.Name)
	}
	if h.Groups.Name != "" {
		m.groups = http.CanonicalHeaderKey(h.Groups.Name)
	}
	return m
}

// strip lists the client's headers to remove. The identity headers always go, so a client can
// never claim an identity; Authorization goes only when ours replaces it (withSession and
// idToken set), since elsewhere it may carry a bearer token RequestAuthentication accepts.
func (m headerMapping) strip(withSession bool) []string {
	var out []string
	for _, n := range []string{m.userID, m.groups} {
		if n != "" {
			out = append(out, n)
		}
	}
	if withSession && m.spec.IDToken {
		out = append(out, "Authorization")
	}
	return out
}

// set returns the identity headers for s. A claim that is missing, or whose value cannot be a
// header value, gives no header.
func (m headerMapping) set(s *session.Session) http.Header {
	h := http.Header{}
	if m.userID != "" {
		if v, ok := claimString(s.Claims[m.spec.UserID.Claim]); ok {
			v = m.spec.UserID.Prefix + strings.TrimPrefix(v, m.spec.UserID.StripPrefix)
			if validHeaderValue(v) {
				h.Set(m.userID, v)
			}
		}
	}
	if m.groups != "" {
		if v, ok := claimList(s.Claims[m.spec.Groups.Claim]); ok && validHeaderValue(v) {
			h.Set(m.groups, v)
		}
	}
	if m.spec.IDToken && s.IDToken != "" {
		h.Set("Authorization", "Bearer "+s.IDToken)
	}
	return h
}

// claimString renders a scalar claim: strings as they are, numbers and booleans as JSON writes
// them.
func claimString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, v != ""
	case float64, bool:
		return fmt.Sprint(v), true
	}
	return "", false
}

// claimList renders a list claim comma-separated; a single string is a list of one.
func claimList(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, v != ""
	case []any:
		parts := make([]string, 0, len(v))
		for _, item := range v {
			if s, ok := claimString(item); ok {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ","), len(parts) > 0
	}
	return "", false
}

// validHeaderValue refuses control characters, which could split or smuggle headers.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
