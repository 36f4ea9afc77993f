package gateway

import (
	"fmt"
	"regexp"
	"strings"

	networking "istio.io/api/networking/v1alpha3"
)

// RegexRewrite replaces every match of Match in the path with Rewrite, where \1 names a
// capture group as in Envoy's regex_rewrite.
type RegexRewrite struct {
	Match   string `yaml:"match"`
	Rewrite string `yaml:"rewrite"`

	re   *regexp.Regexp
	repl string // Rewrite in Go's template syntax
}

func compileRegexRewrite(rr *networking.RegexRewrite) (*RegexRewrite, error) {
	re, err := regexp.Compile(rr.GetMatch())
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", rr.GetMatch(), err)
	}
	return &RegexRewrite{Match: rr.GetMatch(), Rewrite: rr.GetRewrite(), re: re, repl: goTemplate(rr.GetRewrite())}, nil
}

// goTemplate converts Envoy's substitution syntax (\1) to Go's (${1}), escaping a literal $.
func goTemplate(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '$':
			b.WriteString("$$")
		case s[i] == '\\' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			b.WriteString("${" + s[i+1:j] + "}")
			i = j - 1
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// path returns the upstream path for a request path matched by m.
func (rw *Rewrite) path(m *RouteMatch, p string) string {
	switch {
	case rw == nil:
		return p
	case rw.URIRegex != nil:
		return rw.URIRegex.re.ReplaceAllString(p, rw.URIRegex.repl)
	case rw.URI == "":
		return p
	case m.Path.Kind == MatchPrefix:
		// The matched prefix is swapped; exact and regex matches swap the whole path.
		return rw.URI + p[len(m.Path.Value):]
	}
	return rw.URI
}
