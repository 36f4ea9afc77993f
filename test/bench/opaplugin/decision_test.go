package main

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/authz/provider"
)

func TestDecision(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      any
		want    provider.Result
		wantErr bool
	}{
		{name: "true", in: true, want: provider.Result{Allowed: true, Status: 200}},
		{name: "false", in: false, want: provider.Result{Status: 403}},
		{name: "allowed object", in: map[string]any{
			"allowed":                   true,
			"headers":                   map[string]any{"x-user": "alice", "x-roles": []any{"a", "b"}},
			"response_headers_to_add":   map[string]any{"x-policy": "books"},
			"request_headers_to_remove": []any{"authorization"},
			"dynamic_metadata":          map[string]any{"user": "alice"},
		}, want: provider.Result{
			Allowed: true, Status: 200,
			UpstreamHeaders:       []authz.Header{{Name: "x-roles", Value: "a"}, {Name: "x-roles", Value: "b"}, {Name: "x-user", Value: "alice"}},
			DownstreamHeaders:     []authz.Header{{Name: "x-policy", Value: "books"}},
			RemoveUpstreamHeaders: []string{"authorization"},
			DynamicMetadata:       map[string]any{"user": "alice"},
		}},
		{name: "denied with status, body and headers", in: map[string]any{
			"allowed": false, "http_status": json.Number("401"), "body": "no",
			"headers": map[string]any{"www-authenticate": "Bearer"},
		}, want: provider.Result{Status: 401, Body: "no", DownstreamHeaders: []authz.Header{{Name: "www-authenticate", Value: "Bearer"}}}},
		{name: "denied without status", in: map[string]any{"allowed": false}, want: provider.Result{Status: 403}},
		{name: "allowed missing", in: map[string]any{"http_status": json.Number("401")}, wantErr: true},
		{name: "bad status", in: map[string]any{"allowed": false, "http_status": json.Number("42")}, wantErr: true},
		{name: "bad header", in: map[string]any{"allowed": true, "headers": map[string]any{"x": json.Number("1")}}, wantErr: true},
		{name: "neither bool nor object", in: "yes", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decision(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("decision(%v) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("decision(%v) =\n%+v\nwant\n%+v", tt.in, got, tt.want)
			}
		})
	}
}
