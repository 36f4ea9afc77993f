package opa

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/authz/provider"
)

func jwtRolesProvider(t testing.TB) *Provider {
	t.Helper()
	modules, data, err := LoadDir(filepath.Join("testdata", "jwtroles"))
	if err != nil {
		t.Fatal(err)
	}
	return newProvider(t, Options{Modules: modules, Data: data})
}

func TestJWTRolesPolicy(t *testing.T) {
	t.Parallel()
	p := jwtRolesProvider(t)
	reader := "Bearer " + token(t, map[string]any{"sub": "alice", "roles": []string{"reader"}})
	writer := "Bearer " + token(t, map[string]any{"sub": "bob", "roles": []string{"writer"}})
	tests := []struct {
		name string
		req  *authz.Request
		want provider.Result
	}{
		{
			name: "reader GETs a book",
			req:  request("GET", "/books/42", "", "Authorization", reader),
			want: provider.Result{
				Allowed:               true,
				Status:                200,
				UpstreamHeaders:       []authz.Header{{Name: "x-roles", Value: "reader"}, {Name: "x-user", Value: "alice"}},
				RemoveUpstreamHeaders: []string{"authorization"},
				DownstreamHeaders:     []authz.Header{{Name: "x-policy", Value: "jwtroles"}},
				DynamicMetadata:       map[string]any{"user": "alice", "roles": float64(1)},
			},
		},
		{
			name: "reader may not POST",
			req:  request("POST", "/books", "", "Authorization", reader),
			want: provider.Result{Status: 403, Body: "forbidden"},
		},
		{
			name: "writer POSTs to the collection only",
			req:  request("POST", "/books/42", "", "Authorization", writer),
			want: provider.Result{Status: 403, Body: "forbidden"},
		},
		{
			name: "writer POSTs a book",
			req:  request("POST", "/books", "", "Authorization", writer),
			want: provider.Result{
				Allowed:               true,
				Status:                200,
				UpstreamHeaders:       []authz.Header{{Name: "x-roles", Value: "writer"}, {Name: "x-user", Value: "bob"}},
				RemoveUpstreamHeaders: []string{"authorization"},
				DownstreamHeaders:     []authz.Header{{Name: "x-policy", Value: "jwtroles"}},
				DynamicMetadata:       map[string]any{"user": "bob", "roles": float64(1)},
			},
		},
		{
			name: "encoded slash splits parsed_path as the plugin decodes it",
			req:  request("POST", "/books%2Fextra", "", "Authorization", writer),
			want: provider.Result{Status: 403, Body: "forbidden"},
		},
		{
			name: "no token gets the custom 401",
			req:  request("GET", "/books/42", ""),
			want: provider.Result{
				Status:            401,
				Body:              `{"error":"unauthenticated"}`,
				DownstreamHeaders: []authz.Header{{Name: "www-authenticate", Value: `Bearer realm="books"`}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := p.Check(t.Context(), tt.req, nil)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Check =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

const queryPolicy = `package envoy.authz

allow := {
	"allowed": true,
	"query_parameters_to_set": {"tenant": "acme", "scope": ["read", "list"]},
	"query_parameters_to_remove": ["debug"],
} if input.parsed_query.user == ["alice"]

allow := {"allowed": false, "headers": {"x-reason": ["no user", "see docs"]}} if not input.parsed_query.user
`

func TestQueryParameterChanges(t *testing.T) {
	t.Parallel()
	p := newProvider(t, Options{Modules: map[string]string{"query.rego": queryPolicy}})
	got := p.Check(t.Context(), request("GET", "/items", "user=alice&debug=1"), nil)
	want := provider.Result{
		Allowed:     true,
		Status:      200,
		SetQuery:    []authz.Header{{Name: "scope", Value: "read"}, {Name: "scope", Value: "list"}, {Name: "tenant", Value: "acme"}},
		RemoveQuery: []string{"debug"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("allowed: Check = %+v, want %+v", got, want)
	}
	got = p.Check(t.Context(), request("GET", "/items", "debug=1"), nil)
	want = provider.Result{
		Status:            403,
		DownstreamHeaders: []authz.Header{{Name: "x-reason", Value: "no user"}, {Name: "x-reason", Value: "see docs"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("denied: Check = %+v, want %+v", got, want)
	}
}

const bodyPolicy = `package envoy.authz

default allow := false

allow if input.parsed_body.amount < 100
allow if input.parsed_body.user == ["alice"]
allow if {
	input.parsed_body.meta[0].kind == "doc"
	input.parsed_body.name == ["report.txt"]
}
allow if {
	input.truncated_body
	input.parsed_body == null
	input.attributes.request.http.headers["x-allow-truncated"] == "yes"
}
`

func TestParsedBody(t *testing.T) {
	t.Parallel()
	p := newProvider(t, Options{Modules: map[string]string{"body.rego": bodyPolicy}, MaxRequestBytes: 1024, AllowPartialMessage: true})
	multipart := "--XyZ\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n" +
		`{"kind":"doc"}` + "\r\n--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nreport.txt\r\n--XyZ--\r\n"
	tests := []struct {
		name        string
		ctype, body string
		extra       []string
		allowed     bool
		status      int
	}{
		{"json under the limit", "application/json", `{"amount": 42}`, nil, true, 200},
		{"json over the limit", "application/json; charset=utf-8", `{"amount": 420}`, nil, false, 403},
		{"form", "application/x-www-form-urlencoded", "user=alice", nil, true, 200},
		{"form other user", "application/x-www-form-urlencoded", "user=bob", nil, false, 403},
		{"multipart", "multipart/form-data; boundary=XyZ", multipart, nil, true, 200},
		{"unparsed type", "text/plain", `{"amount": 1}`, nil, false, 403},
		{"truncated", "application/json", `{"amount": 1`, []string{"Content-Length", "500", "X-Allow-Truncated", "yes"}, true, 200},
		{"invalid json is the plugin's 400", "application/json", `{"amount":`, nil, false, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := request("POST", "/pay", "", append([]string{"Content-Type", tt.ctype}, tt.extra...)...)
			got := p.Check(t.Context(), r, []byte(tt.body))
			if got.Allowed != tt.allowed || got.Status != tt.status || got.Err != nil {
				t.Errorf("Check = %+v, want allowed=%v status=%d", got, tt.allowed, tt.status)
			}
		})
	}
}

func TestBoolDecisionAndPath(t *testing.T) {
	t.Parallel()
	p := newProvider(t, Options{
		Path:    "gatehouse/public/allow",
		Modules: map[string]string{"public.rego": "package gatehouse.public\n\nallow if input.parsed_path[0] == \"public\"\n\ndefault allow := false\n"},
	})
	if got := p.Check(t.Context(), request("GET", "/public/index.html", ""), nil); !reflect.DeepEqual(got, provider.Result{Allowed: true, Status: 200}) {
		t.Errorf("true: Check = %+v", got)
	}
	if got := p.Check(t.Context(), request("GET", "/private", ""), nil); !reflect.DeepEqual(got, provider.Result{Status: 403}) {
		t.Errorf("false: Check = %+v", got)
	}
}

func TestNoDecisionIsAnExtAuthzError(t *testing.T) {
	t.Parallel()
	policies := map[string]string{
		"conflict":       "package envoy.authz\n\nallow := true if input.parsed_query.a\nallow := false if input.parsed_query.a\n",
		"undefined":      "package envoy.authz\n\nallow if input.nothing\n",
		"string":         "package envoy.authz\n\nallow := \"yes\"\n",
		"no allowed":     "package envoy.authz\n\nallow := {\"headers\": {\"a\": \"b\"}}\n",
		"bad status":     "package envoy.authz\n\nallow := {\"allowed\": false, \"http_status\": 999}\n",
		"bad header":     "package envoy.authz\n\nallow := {\"allowed\": true, \"headers\": {\"a\": 1}}\n",
		"divide by zero": "package envoy.authz\n\nallow := {\"allowed\": 1 / (count(input.parsed_query) - 1) > 0}\n",
	}
	for name, src := range policies {
		for _, failOpen := range []bool{false, true} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				p := newProvider(t, Options{Modules: map[string]string{"p.rego": src}, FailOpen: failOpen, StatusOnError: 503})
				got := p.Check(t.Context(), request("GET", "/", "a=1"), nil)
				if got.Err == nil {
					t.Fatalf("Check = %+v, want an error", got)
				}
				if failOpen && (!got.Allowed || got.Status != 200) {
					t.Errorf("failOpen: Check = %+v, want allowed", got)
				}
				if !failOpen && (got.Allowed || got.Status != 503) {
					t.Errorf("Check = %+v, want statusOnError 503", got)
				}
			})
		}
	}
}

func TestStatusOnErrorDefaultsTo403(t *testing.T) {
	t.Parallel()
	p := newProvider(t, Options{Modules: map[string]string{"p.rego": "package envoy.authz\n\nallow := 1\n"}})
	got := p.Check(t.Context(), request("GET", "/", ""), nil)
	if got.Allowed || got.Status != 403 || got.Err == nil || !strings.Contains(got.Err.Error(), "envoy/authz/allow") {
		t.Errorf("Check = %+v, want 403 with an error naming the path", got)
	}
}

func TestRegoV0Policy(t *testing.T) {
	t.Parallel()
	v0 := "package envoy.authz\n\ndefault allow = false\n\nallow {\n\tinput.attributes.request.http.method == \"GET\"\n}\n"
	modules := map[string]string{"v0.rego": v0}
	if _, err := New(Options{Modules: modules}); err == nil {
		t.Fatal("a v0 policy compiled as Rego v1")
	}
	p := newProvider(t, Options{Modules: modules, RegoVersion: ast.RegoV0})
	if got := p.Check(t.Context(), request("GET", "/", ""), nil); !got.Allowed {
		t.Errorf("Check = %+v, want allowed", got)
	}
}

// Check shares one prepared query across goroutines; -race checks it needs no locking.
func TestCheckConcurrent(t *testing.T) {
	t.Parallel()
	p := jwtRolesProvider(t)
	reader := "Bearer " + token(t, map[string]any{"sub": "alice", "roles": []string{"reader"}})
	done := make(chan provider.Result)
	for i := range 8 {
		go func() {
			r := request("GET", "/books/42", "", "Authorization", reader)
			if i%2 == 1 {
				r = request("DELETE", "/books/42", "", "Authorization", reader)
			}
			done <- p.Check(t.Context(), r, nil)
		}()
	}
	for i := 0; i < 8; i++ {
		res := <-done
		if res.Err != nil || (res.Status != 200 && res.Status != 403) {
			t.Errorf("Check = %+v", res)
		}
	}
}
