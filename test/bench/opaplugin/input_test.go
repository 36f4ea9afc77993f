package main

import (
	"encoding/json"
	"reflect"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

func TestParsePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path      string
		wantPath  []any
		wantQuery map[string]any
	}{
		{path: "/books/42", wantPath: []any{"books", "42"}, wantQuery: map[string]any{}},
		{path: "/", wantPath: []any{""}, wantQuery: map[string]any{}},
		{path: "/books/?tag=a&tag=b&q=x%20y", wantPath: []any{"books", ""},
			wantQuery: map[string]any{"tag": []any{"a", "b"}, "q": []any{"x y"}}},
		{path: "/a%20b", wantPath: []any{"a b"}, wantQuery: map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			p, q, err := parsePath(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p, tt.wantPath) || !reflect.DeepEqual(q, tt.wantQuery) {
				t.Errorf("parsePath(%q) = %#v, %#v; want %#v, %#v", tt.path, p, q, tt.wantPath, tt.wantQuery)
			}
		})
	}
}

func TestParseBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		hdrs          map[string]string
		body          string
		want          any
		wantTruncated bool
	}{
		{name: "no content-type", hdrs: map[string]string{}, body: `{"a":1}`},
		{name: "no body", hdrs: map[string]string{"content-type": "application/json"}},
		{name: "json", hdrs: map[string]string{"content-type": "application/json"}, body: `{"a":1}`,
			want: map[string]any{"a": json.Number("1")}},
		{name: "truncated", hdrs: map[string]string{"content-type": "application/json", "content-length": "99"}, body: `{"a":1}`,
			wantTruncated: true},
		{name: "form", hdrs: map[string]string{"content-type": "application/x-www-form-urlencoded"}, body: "a=1&a=2&b=",
			want: map[string]any{"a": []any{"1", "2"}, "b": []any{""}}},
		{name: "other type", hdrs: map[string]string{"content-type": "text/plain"}, body: "hi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, truncated, err := parseBody(tt.hdrs, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) || truncated != tt.wantTruncated {
				t.Errorf("parseBody = %#v, %v; want %#v, %v", got, truncated, tt.want, tt.wantTruncated)
			}
		})
	}
}

// The input keeps protojson's field names for the attributes and adds the plugin's fields.
func TestPluginInput(t *testing.T) {
	t.Parallel()
	cr := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		ContextExtensions: map[string]string{"namespace": "istio-system"},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "GET", Path: "/books/42?x=1", Headers: map[string]string{":path": "/books/42?x=1"},
		}},
	}}
	in, err := pluginInput(cr)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"attributes": map[string]any{
			"contextExtensions": map[string]any{"namespace": "istio-system"},
			"request": map[string]any{"http": map[string]any{
				"method": "GET", "path": "/books/42?x=1", "headers": map[string]any{":path": "/books/42?x=1"},
			}},
		},
		"version":        map[string]any{"ext_authz": "v3", "encoding": "protojson"},
		"parsed_path":    []any{"books", "42"},
		"parsed_query":   map[string]any{"x": []any{"1"}},
		"parsed_body":    nil,
		"truncated_body": false,
	}
	if !reflect.DeepEqual(in, want) {
		t.Errorf("pluginInput =\n%#v\nwant\n%#v", in, want)
	}
}
