package jwt

import (
	"net/http"
	"net/url"
	"strings"
)

// A location is where tokens are looked for, shared by every rule that names it; rules lists
// which rules (by index) may verify a token found there (Envoy: the issuers that specified it).
type headerLoc struct {
	name, prefix string
	rules        []int
}

type namedLoc struct {
	name  string
	rules []int
}

// found is one token in one location.
type found struct {
	raw    string
	header string // header to remove when the token is not forwarded; "" for params and cookies
	rules  []int
}

// extract collects every token in every location, in a fixed order (headers, then query
// parameters, then cookies, each in rule order), so results are deterministic.
func (a *Authenticator) extract(in Input) []found {
	var out []found
	for i := range a.headers {
		loc := &a.headers[i]
		for _, v := range in.Header[loc.name] {
			raw, ok := cutPrefixFold(v, loc.prefix)
			if !ok {
				continue // e.g. "Authorization: Basic ...": not a token for this location
			}
			out = append(out, found{raw: strings.TrimSpace(raw), header: loc.name, rules: loc.rules})
		}
	}
	if len(a.params) > 0 && in.RawQuery != "" {
		for q := in.RawQuery; q != ""; {
			var pair string
			pair, q, _ = strings.Cut(q, "&")
			k, v, _ := strings.Cut(pair, "=")
			if uk, err := url.QueryUnescape(k); err == nil {
				k = uk
			}
			for i := range a.params {
				if a.params[i].name == k {
					if uv, err := url.QueryUnescape(v); err == nil {
						v = uv
					}
					out = append(out, found{raw: v, rules: a.params[i].rules})
					break
				}
			}
		}
	}
	if len(a.cookies) > 0 {
		for _, line := range in.Header["Cookie"] {
			cookies, err := http.ParseCookie(line)
			if err != nil {
				continue
			}
			for _, c := range cookies {
				for i := range a.cookies {
					if a.cookies[i].name == c.Name {
						out = append(out, found{raw: c.Value, rules: a.cookies[i].rules})
					}
				}
			}
		}
	}
	return out
}

// cutPrefixFold matches the prefix case-insensitively, as Envoy does for "Bearer ".
func cutPrefixFold(v, prefix string) (string, bool) {
	if len(v) < len(prefix) || !strings.EqualFold(v[:len(prefix)], prefix) {
		return "", false
	}
	return v[len(prefix):], true
}
