package opa

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/authz/provider"
)

// result reads a decision as opa-envoy-plugin turns it into a CheckResponse:
//   - a bool allows, or denies with Envoy's plain 403;
//   - an object's allowed decides. headers go to the upstream when allowed and to the client when
//     denied; request_headers_to_remove, response_headers_to_add and the query parameter changes
//     apply only when allowed; body and http_status only when denied; dynamic_metadata to both.
//
// A field of the wrong type fails the whole decision, as it fails the plugin's Check.
func result(v ast.Value) (provider.Result, error) {
	switch d := v.(type) {
	case ast.Boolean:
		if d {
			return provider.Result{Allowed: true, Status: http.StatusOK}, nil
		}
		return provider.Result{Status: http.StatusForbidden}, nil
	case ast.Object:
		return objectResult(d)
	}
	return provider.Result{}, fmt.Errorf("%w: %s", errNoDecision, typeName(v))
}

func objectResult(d ast.Object) (provider.Result, error) {
	var res provider.Result
	at := d.Get(ast.InternedTerm("allowed"))
	if at == nil {
		return res, fmt.Errorf(`unable to determine evaluation result due to missing "allowed" key`)
	}
	allowed, ok := at.Value.(ast.Boolean)
	if !ok {
		return res, fmt.Errorf("allowed: expected boolean, got %s", typeName(at.Value))
	}
	res.Allowed = bool(allowed)
	headers, err := headerList("headers", d.Get(ast.InternedTerm("headers")))
	if err != nil {
		return res, err
	}
	if res.DynamicMetadata, err = dynamicMetadata(d); err != nil {
		return res, err
	}
	if res.Allowed {
		res.Status = http.StatusOK
		res.UpstreamHeaders = headers
		if res.RemoveUpstreamHeaders, err = stringList(d, "request_headers_to_remove"); err != nil {
			return res, err
		}
		if res.DownstreamHeaders, err = headerList("response_headers_to_add", d.Get(ast.InternedTerm("response_headers_to_add"))); err != nil {
			return res, err
		}
		if res.RemoveQuery, err = stringList(d, "query_parameters_to_remove"); err != nil {
			return res, err
		}
		if res.SetQuery, err = queryToSet(d); err != nil {
			return res, err
		}
		return res, nil
	}
	res.DownstreamHeaders = headers
	if res.Body, err = responseBody(d); err != nil {
		return res, err
	}
	if res.Status, err = httpStatus(d); err != nil {
		return res, err
	}
	return res, nil
}

// headerList reads a header field: an object of name to a string or a list of strings, or a list
// of such objects (which lets a policy repeat a name). Names are sorted within an object so the
// order is stable.
func headerList(field string, t *ast.Term) ([]authz.Header, error) {
	if t == nil {
		return nil, nil
	}
	var out []authz.Header
	add := func(o ast.Object) error {
		for _, k := range sortedKeys(o) {
			name, ok := k.Value.(ast.String)
			if !ok {
				return fmt.Errorf("%s: header name %v is not a string", field, k)
			}
			switch v := o.Get(k).Value.(type) {
			case ast.String:
				out = append(out, authz.Header{Name: string(name), Value: string(v)})
			case *ast.Array:
				for i := range v.Len() {
					s, ok := v.Elem(i).Value.(ast.String)
					if !ok {
						return fmt.Errorf("%s: header %q: invalid value type %s", field, name, typeName(v.Elem(i).Value))
					}
					out = append(out, authz.Header{Name: string(name), Value: string(s)})
				}
			default:
				return fmt.Errorf("%s: header %q: expected string or array, got %s", field, name, typeName(v))
			}
		}
		return nil
	}
	switch v := t.Value.(type) {
	case ast.Object:
		if err := add(v); err != nil {
			return nil, err
		}
	case *ast.Array:
		for i := range v.Len() {
			o, ok := v.Elem(i).Value.(ast.Object)
			if !ok {
				return nil, fmt.Errorf("%s[%d]: expected object, got %s", field, i, typeName(v.Elem(i).Value))
			}
			if err := add(o); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("%s: expected object, got %s", field, typeName(v))
	}
	return out, nil
}

// stringList reads an array (or set) of strings.
func stringList(d ast.Object, field string) ([]string, error) {
	t := d.Get(ast.StringTerm(field))
	if t == nil {
		return nil, nil
	}
	var elems []*ast.Term
	switch v := t.Value.(type) {
	case *ast.Array:
		for i := range v.Len() {
			elems = append(elems, v.Elem(i))
		}
	case ast.Set:
		sorted := v.Sorted()
		for i := range sorted.Len() {
			elems = append(elems, sorted.Elem(i))
		}
	default:
		return nil, fmt.Errorf("%s: expected array of strings, got %s", field, typeName(v))
	}
	out := make([]string, 0, len(elems))
	for _, e := range elems {
		s, ok := e.Value.(ast.String)
		if !ok {
			return nil, fmt.Errorf("%s: expected string, got %s", field, typeName(e.Value))
		}
		out = append(out, string(s))
	}
	return out, nil
}

// queryToSet reads query_parameters_to_set: name to a string or a list of strings.
func queryToSet(d ast.Object) ([]authz.Header, error) {
	const field = "query_parameters_to_set"
	t := d.Get(ast.InternedTerm(field))
	if t == nil {
		return nil, nil
	}
	o, ok := t.Value.(ast.Object)
	if !ok {
		return nil, fmt.Errorf("%s: expected object, got %s", field, typeName(t.Value))
	}
	return headerList(field, ast.NewTerm(o))
}

func responseBody(d ast.Object) (string, error) {
	t := d.Get(ast.InternedTerm("body"))
	if t == nil {
		return "", nil
	}
	s, ok := t.Value.(ast.String)
	if !ok {
		return "", fmt.Errorf("body: expected string, got %s", typeName(t.Value))
	}
	return string(s), nil
}

// httpStatus reads http_status (403 when absent); it must be a status Envoy's HttpStatus enum
// knows, as the plugin checks.
func httpStatus(d ast.Object) (int, error) {
	t := d.Get(ast.InternedTerm("http_status"))
	if t == nil {
		return http.StatusForbidden, nil
	}
	n, ok := t.Value.(ast.Number)
	if !ok {
		return 0, fmt.Errorf("http_status: expected number, got %s", typeName(t.Value))
	}
	code, ok := n.Int()
	if !ok {
		return 0, fmt.Errorf("http_status: %v is not an integer", n)
	}
	if _, known := typev3.StatusCode_name[int32(code)]; !known || http.StatusText(code) == "" {
		return 0, fmt.Errorf("http_status: invalid HTTP status code %d", code)
	}
	return code, nil
}

// dynamicMetadata reads dynamic_metadata as the Go values a protobuf Struct holds (numbers as
// float64).
func dynamicMetadata(d ast.Object) (map[string]any, error) {
	t := d.Get(ast.InternedTerm("dynamic_metadata"))
	if t == nil {
		return nil, nil
	}
	if _, ok := t.Value.(ast.Object); !ok {
		return nil, fmt.Errorf("dynamic_metadata: expected object, got %s", typeName(t.Value))
	}
	x, err := ast.JSON(t.Value)
	if err != nil {
		return nil, fmt.Errorf("dynamic_metadata: %w", err)
	}
	m, _ := x.(map[string]any)
	return structValues(m).(map[string]any), nil
}

func structValues(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = structValues(e)
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = structValues(e)
		}
		return v
	case json.Number:
		f, _ := v.Float64()
		return f
	}
	return v
}

var errNoDecision = errors.New("illegal value for policy evaluation result")

func sortedKeys(o ast.Object) []*ast.Term {
	keys := o.Keys()
	if len(keys) > 1 {
		keys = slices.Clone(keys)
		slices.SortFunc(keys, func(a, b *ast.Term) int { return a.Value.Compare(b.Value) })
	}
	return keys
}

func typeName(v ast.Value) string {
	if v == nil {
		return "undefined"
	}
	return strings.ToLower(ast.ValueName(v))
}
