package authz

import (
	"fmt"
	"strings"
)

// Path template operators, as Istio 1.20+ accepts them in operation paths and hands them to Envoy's
// uri_template matcher ({*} -> "*", {**} -> "**").
const (
	templateOne = "{*}"
	templateAny = "{**}"
)

// isPathTemplate reports whether an operation path is a template rather than an exact/prefix/suffix
// value (Istio's security.ContainsPathTemplate).
func isPathTemplate(p string) bool {
	return strings.Contains(p, templateOne) || strings.Contains(p, templateAny)
}

// templateToken is one piece of a compiled template: a literal, or an operator.
type templateToken struct {
	literal string
	op      templateOp
}

type templateOp uint8

const (
	opLiteral templateOp = iota
	// opOne is Envoy's "*": the regex [pchar]+, one non-empty path segment.
	opOne
	// opAny is Envoy's "**": the regex [pchar/]*, any run of segments, possibly empty. It is the
	// last operator of a template, so only a literal suffix can follow it.
	opAny
)

// pathTemplate is an operation path with {*}/{**}, compiled to what Envoy's uri_template matcher
// enforces: a full match of the path (no query) against literals and operators.
type pathTemplate struct {
	tokens []templateToken
	// suffix is the literal text after {**}, which the path must end with.
	suffix string
	hasAny bool
}

// compilePathTemplate compiles p with Istio's rules: each operator is a whole path segment, {**} is
// the last operator, and literal segments are RFC 3986 pchars. policy/validation refuses anything
// else, so an error here means an unvalidated resource.
func compilePathTemplate(p string) (*pathTemplate, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("path template %q: must start with '/'", p)
	}
	t := &pathTemplate{}
	segs := strings.Split(p[1:], "/")
	var lit strings.Builder
	lit.WriteByte('/')
	for i, seg := range segs {
		if i > 0 {
			lit.WriteByte('/')
		}
		switch {
		case seg == templateOne || seg == templateAny:
			if t.hasAny {
				return nil, fmt.Errorf("path template %q: {**} is not the last operator", p)
			}
			if lit.Len() > 0 {
				t.tokens = append(t.tokens, templateToken{literal: lit.String()})
				lit.Reset()
			}
			op := opOne
			if seg == templateAny {
				op = opAny
				t.hasAny = true
			}
			t.tokens = append(t.tokens, templateToken{op: op})
		case seg == "" && i < len(segs)-1, strings.ContainsAny(seg, "{}*"), !allPchar(seg, false):
			return nil, fmt.Errorf("path template %q: segment %q is not a valid literal", p, seg)
		default:
			lit.WriteString(seg)
		}
	}
	if t.hasAny {
		t.suffix = lit.String()
	} else if lit.Len() > 0 {
		t.tokens = append(t.tokens, templateToken{literal: lit.String()})
	}
	return t, nil
}

// match reports whether path matches the whole template. Operators are whole segments, so {*}
// consumes exactly the segment up to the next '/', and {**} the rest but the literal suffix: the
// match is deterministic and needs no backtracking.
func (t *pathTemplate) match(path string) bool {
	i := 0
	for _, tok := range t.tokens {
		switch tok.op {
		case opLiteral:
			if !strings.HasPrefix(path[i:], tok.literal) {
				return false
			}
			i += len(tok.literal)
		case opOne:
			j := i
			for j < len(path) && isPchar(path[j]) {
				j++
			}
			if j == i {
				return false
			}
			i = j
		case opAny:
			rest := path[i:]
			if !strings.HasSuffix(rest, t.suffix) {
				return false
			}
			return allPchar(rest[:len(rest)-len(t.suffix)], true)
		}
	}
	return i == len(path)
}

// isPchar reports whether c is an RFC 3986 pchar as Envoy's uri_template spells it
// ("a-zA-Z0-9-._~%!$&'()+,;:@="; '*' is deliberately absent).
func isPchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-._~%!$&'()+,;:@=", c) >= 0
}

// allPchar reports whether every byte of s is a pchar, or a '/' when slash is set.
func allPchar(s string, slash bool) bool {
	for i := 0; i < len(s); i++ {
		if !isPchar(s[i]) && (!slash || s[i] != '/') {
			return false
		}
	}
	return true
}
