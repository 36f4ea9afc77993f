package oidc

import "strings"

// pathMatch is one skipPaths entry, written as AuthorizationPolicy paths are: exact,
// "prefix*", "*suffix", or "*" for every path.
type pathMatch struct {
	exact, prefix, suffix string
	kind                  byte // '=', 'p', 's', '*'
}

func newPathMatch(p string) pathMatch {
	switch {
	case p == "*":
		return pathMatch{kind: '*'}
	case strings.HasSuffix(p, "*"):
		return pathMatch{prefix: strings.TrimSuffix(p, "*"), kind: 'p'}
	case strings.HasPrefix(p, "*"):
		return pathMatch{suffix: strings.TrimPrefix(p, "*"), kind: 's'}
	}
	return pathMatch{exact: p, kind: '='}
}

func (m pathMatch) match(path string) bool {
	switch m.kind {
	case '*':
		return true
	case 'p':
		return strings.HasPrefix(path, m.prefix)
	case 's':
		return strings.HasSuffix(path, m.suffix)
	}
	return path == m.exact
}
