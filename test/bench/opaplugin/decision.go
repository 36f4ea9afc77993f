package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/authz/provider"
)

// decision reads the plugin's decision document from the Go value the query returned (rego's
// default conversion of the result to JSON-like values, as the plugin reads it): a bool, or an
// object with allowed, headers, response_headers_to_add, request_headers_to_remove,
// http_status, body and dynamic_metadata. Query parameter changes are not read: the bench
// policy sets none.
func decision(v any) (provider.Result, error) {
	switch d := v.(type) {
	case bool:
		if d {
			return provider.Result{Allowed: true, Status: http.StatusOK}, nil
		}
		return provider.Result{Status: http.StatusForbidden}, nil
	case map[string]any:
		return objectDecision(d)
	}
	return provider.Result{}, fmt.Errorf("decision: %T is neither a bool nor an object", v)
}

func objectDecision(d map[string]any) (provider.Result, error) {
	allowed, ok := d["allowed"].(bool)
	if !ok {
		return provider.Result{}, errors.New("decision: allowed: not a bool")
	}
	res := provider.Result{Allowed: allowed, Status: http.StatusOK}
	headers, err := headerList(d["headers"])
	if err != nil {
		return res, fmt.Errorf("decision: headers: %w", err)
	}
	res.DynamicMetadata, _ = d["dynamic_metadata"].(map[string]any)
	if allowed {
		res.UpstreamHeaders = headers
		if res.DownstreamHeaders, err = headerList(d["response_headers_to_add"]); err != nil {
			return res, fmt.Errorf("decision: response_headers_to_add: %w", err)
		}
		remove, _ := d["request_headers_to_remove"].([]any)
		for _, h := range remove {
			if s, ok := h.(string); ok {
				res.RemoveUpstreamHeaders = append(res.RemoveUpstreamHeaders, s)
			}
		}
		return res, nil
	}
	res.DownstreamHeaders = headers
	res.Status = http.StatusForbidden
	if s, ok := d["http_status"]; ok {
		n, err := statusCode(s)
		if err != nil {
			return res, fmt.Errorf("decision: http_status: %w", err)
		}
		res.Status = n
	}
	if b, ok := d["body"].(string); ok {
		res.Body = b
	}
	return res, nil
}

// headerList reads a headers object whose values are strings or lists of strings, in name order
// so a response is the same for the same decision.
func headerList(v any) ([]authz.Header, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%T is not an object", v)
	}
	var out []authz.Header
	for _, name := range slices.Sorted(maps.Keys(m)) {
		switch val := m[name].(type) {
		case string:
			out = append(out, authz.Header{Name: name, Value: val})
		case []any:
			for _, e := range val {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("%s: %T is not a string", name, e)
				}
				out = append(out, authz.Header{Name: name, Value: s})
			}
		default:
			return nil, fmt.Errorf("%s: %T is neither a string nor a list", name, val)
		}
	}
	return out, nil
}

func statusCode(v any) (int, error) {
	var n int64
	switch s := v.(type) {
	case json.Number:
		var err error
		if n, err = s.Int64(); err != nil {
			return 0, err
		}
	case float64:
		n = int64(s)
	case int:
		n = int64(s)
	default:
		return 0, fmt.Errorf("%T is not a number", v)
	}
	if n < 100 || n > 599 {
		return 0, fmt.Errorf("%d is not an HTTP status", n)
	}
	return int(n), nil
}
