package authz

import (
	"fmt"
	"net/textproto"
	"strconv"
	"strings"

	security "istio.io/api/security/v1beta1"
)

// compiledRule is one rule of one policy: (any `from`) AND (any `to`) AND (every `when`). An absent
// `from` or `to` matches everything.
type compiledRule struct {
	// name is Envoy's policy ID for the rule, "ns[<ns>]-policy[<name>]-rule[<i>]".
	name   string
	policy *compiledPolicy
	froms  [][]constraint
	tos    [][]constraint
	whens  []constraint
	// httpOnly is set when any constraint reads an HTTP-only attribute: on TCP, Istio drops such
	// an ALLOW rule entirely.
	httpOnly bool
	// never is the placeholder Istio generates for a policy without rules: it matches nothing.
	never bool
}

// match evaluates the rule. On TCP (tcp set) HTTP-only constraints are skipped, which is how
// Istio widens DENY/AUDIT/CUSTOM rules; callers drop httpOnly ALLOW rules before calling.
func (cr *compiledRule) match(ec *evalContext, tcp bool) bool {
	if cr.never {
		return false
	}
	// Operations first: paths and methods tell most rules apart most cheaply. The result does
	// not depend on the order.
	if len(cr.tos) > 0 && !anyMatch(cr.tos, ec, tcp) {
		return false
	}
	if len(cr.froms) > 0 && !anyMatch(cr.froms, ec, tcp) {
		return false
	}
	return allMatch(cr.whens, ec, tcp)
}

func anyMatch(lists [][]constraint, ec *evalContext, tcp bool) bool {
	for _, l := range lists {
		if allMatch(l, ec, tcp) {
			return true
		}
	}
	return false
}

func allMatch(cs []constraint, ec *evalContext, tcp bool) bool {
	for i := range cs {
		if tcp && cs[i].attr.httpOnly() {
			continue
		}
		if !cs[i].match(ec) {
			return false
		}
	}
	return true
}

// ruleName is the policy ID Envoy logs and reports for a matched rule.
func ruleName(namespace, name string, i int) string {
	return fmt.Sprintf("ns[%s]-policy[%s]-rule[%d]", namespace, name, i)
}

// compileRule compiles spec.rules[i]; policyNS resolves serviceAccounts without a namespace.
func compileRule(field, policyNS string, rule *security.Rule) (*compiledRule, error) {
	cr := &compiledRule{}
	if rule == nil {
		return nil, fmt.Errorf("%s: a rule must not be null", field)
	}
	for i, from := range rule.GetFrom() {
		f := fmt.Sprintf("%s.from[%d].source", field, i)
		cs, err := compileSource(f, policyNS, from.GetSource())
		if err != nil {
			return nil, err
		}
		cr.froms = append(cr.froms, cs)
	}
	for i, to := range rule.GetTo() {
		f := fmt.Sprintf("%s.to[%d].operation", field, i)
		cs, err := compileOperation(f, to.GetOperation())
		if err != nil {
			return nil, err
		}
		cr.tos = append(cr.tos, cs)
	}
	for i, w := range rule.GetWhen() {
		f := fmt.Sprintf("%s.when[%d]", field, i)
		c, err := compileCondition(f, policyNS, w)
		if err != nil {
			return nil, err
		}
		cr.whens = append(cr.whens, c)
	}
	cr.httpOnly = anyHTTPOnly(cr.whens)
	for _, l := range cr.froms {
		cr.httpOnly = cr.httpOnly || anyHTTPOnly(l)
	}
	for _, l := range cr.tos {
		cr.httpOnly = cr.httpOnly || anyHTTPOnly(l)
	}
	return cr, nil
}

func anyHTTPOnly(cs []constraint) bool {
	for _, c := range cs {
		if c.attr.httpOnly() {
			return true
		}
	}
	return false
}

// field is one list pair of a source or operation.
type field struct {
	name              string
	attr              attribute
	values, notValues []string
}

func compileSource(path, policyNS string, s *security.Source) ([]constraint, error) {
	fields := []field{
		{"principals", attrSourcePrincipal, s.GetPrincipals(), s.GetNotPrincipals()},
		{"requestPrincipals", attrRequestPrincipal, s.GetRequestPrincipals(), s.GetNotRequestPrincipals()},
		{"namespaces", attrNamespace, s.GetNamespaces(), s.GetNotNamespaces()},
		{"serviceAccounts", attrServiceAccount, s.GetServiceAccounts(), s.GetNotServiceAccounts()},
		{"trustDomains", attrTrustDomain, s.GetTrustDomains(), s.GetNotTrustDomains()},
		{"ipBlocks", attrSourceIP, s.GetIpBlocks(), s.GetNotIpBlocks()},
		{"remoteIpBlocks", attrRemoteIP, s.GetRemoteIpBlocks(), s.GetNotRemoteIpBlocks()},
	}
	return compileFields(path, policyNS, fields)
}

func compileOperation(path string, o *security.Operation) ([]constraint, error) {
	fields := []field{
		// Cheapest and most selective first; fields are ANDed, so order is free.
		{"paths", attrPath, o.GetPaths(), o.GetNotPaths()},
		{"methods", attrMethod, o.GetMethods(), o.GetNotMethods()},
		{"ports", attrDestPort, o.GetPorts(), o.GetNotPorts()},
		{"hosts", attrHost, o.GetHosts(), o.GetNotHosts()},
	}
	return compileFields(path, "", fields)
}

func compileFields(path, policyNS string, fields []field) ([]constraint, error) {
	var out []constraint
	for _, f := range fields {
		if len(f.values) == 0 && len(f.notValues) == 0 {
			continue
		}
		notName := "not" + strings.ToUpper(f.name[:1]) + f.name[1:]
		c := constraint{attr: f.attr, desc: path + "." + f.name, notDesc: path + "." + notName, raw: f.values, notRaw: f.notValues}
		var err error
		if c.values, err = compileValues(path+"."+f.name, policyNS, f.attr, f.values); err != nil {
			return nil, err
		}
		if c.notValues, err = compileValues(path+"."+notName, policyNS, f.attr, f.notValues); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// compileCondition compiles one `when` condition, classifying its key as Istio's model.New does.
func compileCondition(path, policyNS string, w *security.Condition) (constraint, error) {
	key := w.GetKey()
	c := constraint{desc: path + " " + key + " values", notDesc: path + " " + key + " notValues", raw: w.GetValues(), notRaw: w.GetNotValues()}
	switch {
	case key == "destination.ip":
		c.attr = attrDestIP
	case key == "destination.port":
		c.attr = attrDestPort
	case key == "connection.sni":
		c.attr = attrSNI
	case strings.HasPrefix(key, "experimental.envoy.filters."):
		c.attr = attrMetadata
		filter, name, err := parseMetadataKey(key)
		if err != nil {
			return c, fmt.Errorf("%s.key: %w", path, err)
		}
		c.filter, c.key = filter, name
	case key == "source.ip":
		c.attr = attrSourceIP
	case key == "remote.ip":
		c.attr = attrRemoteIP
	case key == "source.namespace":
		c.attr = attrNamespace
	case key == "source.serviceAccount":
		c.attr = attrServiceAccount
	case key == "source.principal":
		c.attr = attrSourcePrincipal
	case key == "source.trustDomain":
		c.attr = attrTrustDomain
	case key == "request.auth.principal":
		c.attr = attrRequestPrincipal
	case key == "request.auth.audiences":
		c.attr = attrAudiences
	case key == "request.auth.presenter":
		c.attr = attrPresenter
	case strings.HasPrefix(key, "request.headers"):
		c.attr = attrHeader
		name, err := bracketName(strings.TrimPrefix(key, "request.headers"))
		if err != nil {
			return c, fmt.Errorf("%s.key: %q: %w", path, key, err)
		}
		c.name = canonicalHeader(name)
	case strings.HasPrefix(key, "request.experimental.inline.headers"):
		c.attr = attrInlineHeader
		name, err := bracketName(strings.TrimPrefix(key, "request.experimental.inline.headers"))
		if err != nil {
			return c, fmt.Errorf("%s.key: %q: %w", path, key, err)
		}
		c.name = canonicalHeader(name)
	case strings.HasPrefix(key, "request.auth.claims"):
		c.attr = attrClaim
		claims, err := nestedBracketNames(strings.TrimPrefix(key, "request.auth.claims"))
		if err != nil {
			return c, fmt.Errorf("%s.key: %q: %w", path, key, err)
		}
		c.claim = claims
	default:
		return c, fmt.Errorf("%s.key: unknown attribute %s", path, key)
	}
	var err error
	if c.values, err = compileValues(path+".values", policyNS, c.attr, w.GetValues()); err != nil {
		return c, err
	}
	if c.notValues, err = compileValues(path+".notValues", policyNS, c.attr, w.GetNotValues()); err != nil {
		return c, err
	}
	return c, nil
}

// canonicalHeader maps a header name to the key Request.Header uses; pseudo-headers stay lower case.
func canonicalHeader(name string) string {
	if strings.HasPrefix(name, ":") {
		return strings.ToLower(name)
	}
	return textproto.CanonicalMIMEHeaderKey(name)
}

// bracketName reads "[name]".
func bracketName(s string) (string, error) {
	if len(s) < 3 || s[0] != '[' || s[len(s)-1] != ']' || strings.ContainsAny(s[1:len(s)-1], "[]") {
		return "", fmt.Errorf("want the form name[entry]")
	}
	return s[1 : len(s)-1], nil
}

// nestedBracketNames reads "[a][b]…" into ["a", "b", …].
func nestedBracketNames(s string) ([]string, error) {
	if len(s) < 3 || s[0] != '[' || s[len(s)-1] != ']' {
		return nil, fmt.Errorf("want the form name[entry] or name[entry][nested]")
	}
	parts := strings.Split(s[1:len(s)-1], "][")
	for _, p := range parts {
		if p == "" || strings.ContainsAny(p, "[]") {
			return nil, fmt.Errorf("want the form name[entry] or name[entry][nested]")
		}
	}
	return parts, nil
}

// compileValues compiles one list for attr.
func compileValues(path, policyNS string, attr attribute, vs []string) (valueSet, error) {
	out := valueSet{n: len(vs)}
	for i, v := range vs {
		f := fmt.Sprintf("%s[%d]", path, i)
		switch attr {
		case attrHost:
			out.strs = append(out.strs, newHostMatch(v))
		case attrMethod, attrHeader, attrInlineHeader:
			out.strs = append(out.strs, newHeaderMatch(v))
		case attrPath:
			if isPathTemplate(v) {
				t, err := compilePathTemplate(v)
				if err != nil {
					return out, fmt.Errorf("%s: %w", f, err)
				}
				out.paths = append(out.paths, pathMatch{tmpl: t})
			} else {
				out.paths = append(out.paths, pathMatch{s: newStringMatch(v)})
			}
		case attrDestPort:
			p, err := strconv.ParseUint(v, 10, 16)
			if err != nil {
				return out, fmt.Errorf("%s: bad port %q: must be a number in 0..65535", f, v)
			}
			out.ports = append(out.ports, uint16(p))
		case attrDestIP, attrSourceIP, attrRemoteIP:
			p, err := parseIPBlock(v)
			if err != nil {
				return out, fmt.Errorf("%s: %w", f, err)
			}
			out.ips = append(out.ips, p)
		case attrNamespace:
			out.nss = append(out.nss, newNamespaceMatch(v))
		case attrServiceAccount:
			out.sas = append(out.sas, newServiceAccountMatch(policyNS, v))
		case attrRequestPrincipal:
			out.rps = append(out.rps, newRequestPrincipalMatch(v))
		case attrMetadata:
			out.metas = append(out.metas, newMetadataMatch(v))
		case attrSourcePrincipal:
			out.strs = append(out.strs, principalMatch(v))
		default: // trust domains, SNI, audiences, presenter, claims
			out.strs = append(out.strs, newStringMatch(v))
		}
	}
	return out, nil
}
