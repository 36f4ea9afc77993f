package gateway

import (
	"maps"
	"net/http"
	"net/textproto"
	"slices"
	"strings"

	networking "istio.io/api/networking/v1alpha3"
)

// HeaderOps are Istio's header manipulations for a route or a destination.
type HeaderOps struct {
	Request  *HeaderOperations `yaml:"request,omitempty"`
	Response *HeaderOperations `yaml:"response,omitempty"`
}

// HeaderOperations remove, then set, then add headers, in that order as Envoy applies them.
type HeaderOperations struct {
	Remove []string `yaml:"remove,omitempty"`
	Set    []Header `yaml:"set,omitempty"`
	Add    []Header `yaml:"add,omitempty"`
}

// Header is one name and value; the name is in canonical MIME form.
type Header struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

// compileHeaderOps returns nil when there is nothing to do. A Host or :authority set or added
// on the request becomes the authority rewrite, as Istio translates it; other pseudo-headers
// cannot be changed and are dropped.
func compileHeaderOps(h *networking.Headers) (ops *HeaderOps, authority string) {
	if h == nil {
		return nil, ""
	}
	req := compileHeaderOperations(h.GetRequest())
	resp := compileHeaderOperations(h.GetResponse())
	// When both set and add name the authority, set wins.
	authority = authorityIn(h.GetRequest().GetAdd())
	if a := authorityIn(h.GetRequest().GetSet()); a != "" {
		authority = a
	}
	if req == nil && resp == nil {
		return nil, authority
	}
	return &HeaderOps{Request: req, Response: resp}, authority
}

func authorityIn(m map[string]string) string {
	var a string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if isAuthorityHeader(k) {
			a = m[k]
		}
	}
	return a
}

func compileHeaderOperations(o *networking.Headers_HeaderOperations) *HeaderOperations {
	if o == nil {
		return nil
	}
	out := &HeaderOperations{}
	pairs := func(m map[string]string) []Header {
		var hs []Header
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if isInternalHeader(k) {
				continue
			}
			hs = append(hs, Header{Name: textproto.CanonicalMIMEHeaderKey(k), Value: m[k]})
		}
		return hs
	}
	out.Set = pairs(o.GetSet())
	out.Add = pairs(o.GetAdd())
	for _, k := range o.GetRemove() {
		if !isInternalHeader(k) {
			out.Remove = append(out.Remove, textproto.CanonicalMIMEHeaderKey(k))
		}
	}
	if len(out.Set) == 0 && len(out.Add) == 0 && len(out.Remove) == 0 {
		return nil
	}
	return out
}

func isInternalHeader(k string) bool {
	return strings.HasPrefix(k, ":") || strings.EqualFold(k, "host")
}

func isAuthorityHeader(k string) bool {
	return strings.EqualFold(k, ":authority") || strings.EqualFold(k, "host")
}

// apply changes h; nil operations do nothing.
func (o *HeaderOperations) apply(h http.Header) {
	if o == nil {
		return
	}
	for _, k := range o.Remove {
		delete(h, k)
	}
	for _, kv := range o.Set {
		h[kv.Name] = []string{kv.Value}
	}
	for _, kv := range o.Add {
		h[kv.Name] = append(h[kv.Name], kv.Value)
	}
}

func (o *HeaderOps) request() *HeaderOperations {
	if o == nil {
		return nil
	}
	return o.Request
}

func (o *HeaderOps) response() *HeaderOperations {
	if o == nil {
		return nil
	}
	return o.Response
}
