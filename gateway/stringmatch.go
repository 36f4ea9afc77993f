package gateway

import (
	"fmt"
	"regexp"
	"strings"

	networking "istio.io/api/networking/v1alpha3"
)

// StringMatch is a compiled Istio StringMatch with Envoy's semantics: exact and prefix compare
// bytes (optionally ignoring case), regex is RE2 matched against the whole value, and "present"
// (an empty StringMatch, or regex "*") only asks that the value exist.
type StringMatch struct {
	Kind       MatchKind
	Value      string
	IgnoreCase bool

	re *regexp.Regexp
}

// MatchKind is how a StringMatch compares.
type MatchKind int

// The match kinds of Istio's StringMatch, plus Envoy's present_match.
const (
	MatchPresent MatchKind = iota
	MatchExact
	MatchPrefix
	MatchRegex
)

func (k MatchKind) String() string {
	switch k {
	case MatchExact:
		return "exact"
	case MatchPrefix:
		return "prefix"
	case MatchRegex:
		return "regex"
	}
	return "present"
}

// compileStringMatch compiles the regex once, here, so that no request compiles one.
func compileStringMatch(m *networking.StringMatch, ignoreCase bool) (*StringMatch, error) {
	out := &StringMatch{IgnoreCase: ignoreCase}
	switch t := m.GetMatchType().(type) {
	case *networking.StringMatch_Exact:
		out.Kind, out.Value = MatchExact, t.Exact
	case *networking.StringMatch_Prefix:
		out.Kind, out.Value = MatchPrefix, t.Prefix
	case *networking.StringMatch_Regex:
		// Istio turns regex "*" (not RE2) into a presence check.
		if t.Regex == "*" {
			return out, nil
		}
		re, err := regexp.Compile(`^(?:` + t.Regex + `)$`)
		if err != nil {
			return nil, fmt.Errorf("regex %q: %w", t.Regex, err)
		}
		out.Kind, out.Value, out.re, out.IgnoreCase = MatchRegex, t.Regex, re, false
	}
	return out, nil
}

// Match reports whether v matches; callers check presence before calling it.
func (m *StringMatch) Match(v string) bool {
	switch m.Kind {
	case MatchExact:
		if m.IgnoreCase {
			return strings.EqualFold(v, m.Value)
		}
		return v == m.Value
	case MatchPrefix:
		if m.IgnoreCase {
			return len(v) >= len(m.Value) && strings.EqualFold(v[:len(m.Value)], m.Value)
		}
		return strings.HasPrefix(v, m.Value)
	case MatchRegex:
		return m.re.MatchString(v)
	}
	return true
}

// MarshalYAML describes the match as Istio writes it: {exact: v}, {prefix: v}, {regex: v} or
// {present: true}.
func (m *StringMatch) MarshalYAML() (any, error) {
	if m.Kind == MatchPresent {
		return map[string]bool{"present": true}, nil
	}
	out := map[string]any{m.Kind.String(): m.Value}
	if m.IgnoreCase {
		out["ignoreCase"] = true
	}
	return out, nil
}
