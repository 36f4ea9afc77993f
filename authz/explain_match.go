package authz

import (
	"fmt"
	"strconv"
	"strings"
)

// failures lists every condition of cr that does not hold for ec, for an explanation, and how
// many must change for cr to match: of several `from` (or `to`) entries, which are ORed, every
// entry's failures are listed and the one failing least is counted.
func (cr *compiledRule) failures(ec *evalContext, tcp bool) (fails []string, count int) {
	if cr.never {
		return []string{"the policy has no rules (spec: {}): it matches nothing, so an ALLOW policy without rules denies everything"}, 1
	}
	for _, clause := range []struct {
		lists [][]constraint
		kind  string
	}{{cr.tos, "to"}, {cr.froms, "from"}} {
		f, n := entryFailures(clause.lists, clause.kind, ec, tcp)
		fails, count = append(fails, f...), count+n
	}
	for i := range cr.whens {
		if f, ok := cr.whens[i].failure(ec, tcp, "", 0); ok {
			fails, count = append(fails, f), count+1
		}
	}
	return fails, count
}

// entryFailures returns the failures of every entry of lists and the fewest of any entry; none
// when one entry matches.
func entryFailures(lists [][]constraint, kind string, ec *evalContext, tcp bool) ([]string, int) {
	var all []string
	fewest := -1
	for _, l := range lists {
		n := 0
		for j := range l {
			if f, ok := l[j].failure(ec, tcp, kind, len(lists)); ok {
				all = append(all, f)
				n++
			}
		}
		if n == 0 {
			return nil, 0
		}
		if fewest < 0 || n < fewest {
			fewest = n
		}
	}
	return all, max(fewest, 0)
}

// fieldLabel shortens "spec.rules[1].to[0].operation.methods" to "to.operation.methods" (the
// index stays when the rule has several entries of kind), as users read a rule.
func fieldLabel(desc, kind string, entries int) string {
	if strings.HasPrefix(desc, "spec.rules[") {
		if i := strings.Index(desc, "]."); i >= 0 {
			desc = desc[i+2:]
		}
	}
	if kind != "" && entries == 1 {
		desc = strings.Replace(desc, kind+"[0].", kind+".", 1)
	}
	return desc
}

// failure describes c's failure on ec, if it fails; kind and entries shorten its field name.
func (c *constraint) failure(ec *evalContext, tcp bool, kind string, entries int) (string, bool) {
	if tcp && c.attr.httpOnly() {
		return "", false
	}
	actual, present := c.actual(ec)
	if c.values.n > 0 && !c.anyOf(&c.values, ec) {
		label := fieldLabel(c.desc, kind, entries)
		if !present {
			return fmt.Sprintf("%s %s does not match: %s", label, list(c.raw), actual), true
		}
		return fmt.Sprintf("%s %s does not contain %s", label, list(c.raw), actual), true
	}
	if c.notValues.n > 0 && c.anyOf(&c.notValues, ec) {
		return fmt.Sprintf("%s %s contains %s", fieldLabel(c.notDesc, kind, entries), list(c.notRaw), actual), true
	}
	return "", false
}

func list(vs []string) string { return "[" + strings.Join(vs, ", ") + "]" }

// actual is the request's value of c's attribute as an explanation shows it, and whether the
// request has one; without one the text says what is missing.
func (c *constraint) actual(ec *evalContext) (string, bool) {
	r := ec.r
	switch c.attr {
	case attrHost:
		return r.Host, true
	case attrMethod:
		return r.Method, true
	case attrPath:
		return r.Path, true
	case attrDestPort:
		if !r.Destination.IsValid() {
			return "no destination port", false
		}
		return strconv.Itoa(int(r.Destination.Port())), true
	case attrDestIP:
		if !r.Destination.IsValid() {
			return "no destination address", false
		}
		return unmapped(r.Destination.Addr()).String(), true
	case attrSourceIP:
		if !r.Source.IsValid() {
			return "no source address", false
		}
		return unmapped(r.Source.Addr()).String(), true
	case attrRemoteIP:
		if !r.RemoteIP.IsValid() {
			return "no remote IP", false
		}
		return unmapped(r.RemoteIP).String(), true
	case attrSNI:
		if r.SNI == "" {
			return "no SNI (plaintext or no server name)", false
		}
		return r.SNI, true
	case attrSourcePrincipal, attrNamespace, attrServiceAccount, attrTrustDomain:
		if r.SourcePrincipal == "" {
			return "no source principal (the peer did not present an mTLS certificate)", false
		}
		switch c.attr {
		case attrTrustDomain:
			return trustDomain(r.SourcePrincipal) + " (of " + r.SourcePrincipal + ")", true
		case attrNamespace, attrServiceAccount:
			return "principal " + r.SourcePrincipal, true
		}
		return r.SourcePrincipal, true
	case attrHeader, attrInlineHeader:
		v, ok := r.header(c.name)
		if !ok {
			return "no header " + strings.ToLower(c.name), false
		}
		if sensitiveHeader(c.name) {
			v = redacted
		}
		return strconv.Quote(v), true
	case attrMetadata:
		return "metadata " + c.filter + "." + c.key, true
	}
	id := ec.id
	if id == nil {
		return "no verified JWT", false
	}
	switch c.attr {
	case attrRequestPrincipal:
		return id.Principal(), true
	case attrAudiences:
		return list(id.Audiences), true
	case attrPresenter:
		if id.Presenter == "" {
			return "no azp claim", false
		}
		return id.Presenter, true
	case attrClaim:
		values, ok := id.Claim(c.claim)
		if !ok {
			return "no claim " + strings.Join(c.claim, "."), false
		}
		return list(values), true
	}
	return "", false
}

// httpOnlyFields names the HTTP-only fields of an ALLOW rule dropped on TCP.
func httpOnlyFields(cr *compiledRule) []string {
	var out []string
	add := func(cs []constraint, kind string, n int) {
		for i := range cs {
			if cs[i].attr.httpOnly() {
				out = append(out, fieldLabel(cs[i].desc, kind, n))
			}
		}
	}
	for _, l := range cr.tos {
		add(l, "to", len(cr.tos))
	}
	for _, l := range cr.froms {
		add(l, "from", len(cr.froms))
	}
	add(cr.whens, "", 0)
	return out
}
