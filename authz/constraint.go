package authz

import (
	"net/netip"

	"github.com/gatehouse-dev/gatehouse/authz/jwt"
)

// attribute is the request property one constraint reads.
type attribute uint8

const (
	attrHost attribute = iota
	attrMethod
	attrPath
	attrDestPort
	attrDestIP
	attrSNI
	attrSourceIP
	attrRemoteIP
	attrSourcePrincipal
	attrNamespace
	attrServiceAccount
	attrTrustDomain
	attrRequestPrincipal
	attrAudiences
	attrPresenter
	attrClaim
	attrHeader
	attrInlineHeader
	attrMetadata
)

// httpOnly lists the attributes Istio refuses on a TCP filter chain ("%q is HTTP only").
func (a attribute) httpOnly() bool {
	switch a {
	case attrHost, attrMethod, attrPath, attrRequestPrincipal, attrAudiences, attrPresenter,
		attrClaim, attrHeader, attrInlineHeader:
		return true
	}
	return false
}

// constraint is one field of a source or operation, or one `when` condition: the request must
// match one of values (if any) and none of notValues (if any).
type constraint struct {
	attr attribute
	// name is the canonical header name for header attributes.
	name string
	// claim is the claim path for request.auth.claims[a][b].
	claim []string
	// filter and key locate Envoy metadata for experimental.envoy.filters.* conditions.
	filter, key string

	values, notValues valueSet

	// desc and notDesc name the field as written ("spec.rules[0].to[0].operation.methods"), and
	// raw and notRaw keep its values as written: Explain reads them, Check never does.
	desc, notDesc string
	raw, notRaw   []string
}

// valueSet holds one list of compiled values; only the slice for the constraint's attribute is set.
type valueSet struct {
	n     int
	strs  []stringMatch
	paths []pathMatch
	ips   []netip.Prefix
	ports []uint16
	nss   []namespaceMatch
	sas   []serviceAccountMatch
	rps   []requestPrincipalMatch
	metas []metadataMatch
}

// pathMatch is one operation path: a template, or an Istio string match on the path.
type pathMatch struct {
	tmpl *pathTemplate
	s    stringMatch
}

func (p pathMatch) match(path string) bool {
	if p.tmpl != nil {
		return p.tmpl.match(path)
	}
	return p.s.match(path, true)
}

// evalContext is what a rule is evaluated against: the request and its verified JWT identity.
type evalContext struct {
	r  *Request
	id *jwt.Identity
}

func (c *constraint) match(ec *evalContext) bool {
	if c.values.n > 0 && !c.anyOf(&c.values, ec) {
		return false
	}
	if c.notValues.n > 0 && c.anyOf(&c.notValues, ec) {
		return false
	}
	return true
}

// anyOf reports whether the request's attribute matches any value of vs.
func (c *constraint) anyOf(vs *valueSet, ec *evalContext) bool {
	r := ec.r
	switch c.attr {
	case attrHost:
		return anyString(vs.strs, r.Host, true)
	case attrMethod:
		return anyString(vs.strs, r.Method, true)
	case attrPath:
		for _, p := range vs.paths {
			if p.match(r.Path) {
				return true
			}
		}
		return false
	case attrDestPort:
		if !r.Destination.IsValid() {
			return false
		}
		port := r.Destination.Port()
		for _, p := range vs.ports {
			if p == port {
				return true
			}
		}
		return false
	case attrDestIP:
		return anyPrefix(vs.ips, unmapped(r.Destination.Addr()))
	case attrSourceIP:
		return anyPrefix(vs.ips, unmapped(r.Source.Addr()))
	case attrRemoteIP:
		return anyPrefix(vs.ips, unmapped(r.RemoteIP))
	case attrSNI:
		return anyString(vs.strs, r.SNI, r.SNI != "")
	case attrSourcePrincipal:
		return anyString(vs.strs, r.SourcePrincipal, r.SourcePrincipal != "")
	case attrTrustDomain:
		return anyString(vs.strs, trustDomain(r.SourcePrincipal), r.SourcePrincipal != "")
	case attrNamespace:
		for _, m := range vs.nss {
			if m.match(r.SourcePrincipal) {
				return true
			}
		}
		return false
	case attrServiceAccount:
		for _, m := range vs.sas {
			if m.match(r.SourcePrincipal) {
				return true
			}
		}
		return false
	case attrHeader, attrInlineHeader:
		v, ok := r.header(c.name)
		if c.attr == attrInlineHeader {
			return anyInline(vs.strs, v, ok)
		}
		return anyString(vs.strs, v, ok)
	case attrMetadata:
		for _, m := range vs.metas {
			if m.match(r.FilterMetadata, c.filter, c.key) {
				return true
			}
		}
		return false
	}
	return c.anyOfIdentity(vs, ec.id)
}

// anyOfIdentity matches the JWT attributes; without a verified token none of them is present.
func (c *constraint) anyOfIdentity(vs *valueSet, id *jwt.Identity) bool {
	if id == nil {
		return false
	}
	switch c.attr {
	case attrRequestPrincipal:
		_, issOK := id.Claims["iss"]
		_, subOK := id.Claims["sub"]
		for _, m := range vs.rps {
			if m.match(id.Issuer, issOK, id.Subject, subOK) {
				return true
			}
		}
	case attrAudiences:
		for _, a := range id.Audiences {
			if anyString(vs.strs, a, true) {
				return true
			}
		}
	case attrPresenter:
		return anyString(vs.strs, id.Presenter, id.Presenter != "")
	case attrClaim:
		values, ok := id.Claim(c.claim)
		if !ok {
			return false
		}
		for _, v := range values {
			if anyString(vs.strs, v, true) {
				return true
			}
		}
	}
	return false
}

// anyInline matches request.experimental.inline.headers: Istio's regex accepts the value as any
// one element of the comma-joined header value.
func anyInline(ms []stringMatch, v string, present bool) bool {
	if !present {
		return false
	}
	for _, m := range ms {
		if m.kind == matchPresent {
			return true
		}
		rest := v
		for {
			elem, tail, more := cutByte(rest, ',')
			if m.match(elem, true) {
				return true
			}
			if !more {
				break
			}
			rest = tail
		}
	}
	return false
}

func cutByte(s string, c byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
