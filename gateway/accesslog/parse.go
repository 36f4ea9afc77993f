package accesslog

import (
	"fmt"
	"strconv"
)

// item is one piece of an Envoy format string: literal text, or a command operator
// %NAME(arg):max% (arg and max optional).
type item struct {
	lit    string
	name   string // empty for literal text
	arg    string
	hasArg bool
	maxLen int
	pos    int // byte offset of the operator's '%', for messages
}

// parseFormat splits an Envoy format string into literal text and command operators, following
// Envoy's grammar: '%', a name of [A-Z0-9_], an optional "(...)" that cannot contain ')', an
// optional ":N" length limit, and the closing '%'. "%%" is a literal '%'.
//
// Envoy refuses the whole format when a '%' starts no valid operator, and istiod passes the
// string to Envoy unchecked, so the proxy rejects the listener. Rejecting the mesh config here
// would take every other setting with it; instead the stray '%' is printed as it is and a
// warning says where it is.
func parseFormat(f string) ([]item, []string) {
	var items []item
	var warnings []string
	lit := func(s string) {
		if s == "" {
			return
		}
		if n := len(items); n > 0 && items[n-1].name == "" {
			items[n-1].lit += s
			return
		}
		items = append(items, item{lit: s})
	}
	start := 0 // start of pending literal text
	for i := 0; i < len(f); {
		if f[i] != '%' {
			i++
			continue
		}
		if i+1 < len(f) && f[i+1] == '%' {
			lit(f[start : i+1])
			i += 2
			start = i
			continue
		}
		it, end, err := parseOperator(f, i)
		if err != "" {
			warnings = append(warnings, fmt.Sprintf("position %d: %s; the '%%' is printed as it is", i, err))
			i++
			continue
		}
		lit(f[start:i])
		items = append(items, it)
		i = end
		start = end
	}
	lit(f[start:])
	return items, warnings
}

// parseOperator parses the operator whose '%' is at f[at]; end is the offset after its closing
// '%'. A non-empty err says what is wrong.
func parseOperator(f string, at int) (it item, end int, err string) {
	i := at + 1
	for i < len(f) && isNameByte(f[i]) {
		i++
	}
	if i == at+1 {
		return it, 0, "'%' is not followed by a command operator name"
	}
	it = item{name: f[at+1 : i], pos: at}
	if i < len(f) && f[i] == '(' {
		j := i + 1
		for j < len(f) && f[j] != ')' {
			j++
		}
		if j == len(f) {
			return it, 0, fmt.Sprintf("%%%s( has no closing ')'", it.name)
		}
		it.arg, it.hasArg = f[i+1:j], true
		i = j + 1
	}
	if i < len(f) && f[i] == ':' {
		j := i + 1
		for j < len(f) && f[j] >= '0' && f[j] <= '9' {
			j++
		}
		n, convErr := strconv.Atoi(f[i+1 : j])
		if convErr != nil || n <= 0 {
			return it, 0, fmt.Sprintf("%%%s: length limit %q is not a positive number", it.name, f[i+1:j])
		}
		it.maxLen = n
		i = j
	}
	if i >= len(f) || f[i] != '%' {
		return it, 0, fmt.Sprintf("%%%s is not closed by '%%'", it.name)
	}
	return it, i + 1, ""
}

func isNameByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}
