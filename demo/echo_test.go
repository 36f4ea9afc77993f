package demo

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestHTTPEndpoints(t *testing.T) {
	t.Parallel()
	addr := startBackend(t, Options{Name: "v1"})
	base := "http://" + addr
	clients := map[string]*http.Client{"HTTP/1.1": newClient(t, false), "HTTP/2.0": newClient(t, true)}

	tests := []struct {
		name   string
		method string
		path   string
		header http.Header
		body   string
		code   int
		want   map[string]any // members that must be present with these values
		absent []string       // members that must not be present
	}{
		{
			name: "headers", method: "GET", path: "/headers",
			header: http.Header{"X-Test": {"a", "b"}, "X-Quote": {`say "hi"`}},
			code:   200,
			want: map[string]any{"headers": map[string]any{
				"X-Test": "a,b", "X-Quote": `say "hi"`, "Host": addr, "Accept-Encoding": "gzip", "User-Agent": "Go-http-client/{major}",
			}},
		},
		{
			name: "anything with query", method: "GET", path: "/anything/x/y?a=1&b=2&b=3&e=",
			code: 200,
			want: map[string]any{
				"method": "GET",
				"url":    base + "/anything/x/y?a=1&b=2&b=3&e=",
				"path":   "/anything/x/y",
				"args":   map[string]any{"a": "1", "b": []any{"2", "3"}, "e": ""},
				"data":   "",
				"json":   nil,
				"origin": "127.0.0.1",
			},
		},
		{
			name: "anything json body", method: "POST", path: "/anything",
			header: http.Header{"Content-Type": {"application/json"}},
			body:   `{"k": [1, 2], "s": "x"}`,
			code:   200,
			want: map[string]any{
				"method": "POST",
				"args":   map[string]any{},
				"data":   `{"k": [1, 2], "s": "x"}`,
				"json":   map[string]any{"k": []any{1.0, 2.0}, "s": "x"},
			},
		},
		{
			name: "anything text body is not json", method: "PUT", path: "/anything",
			body: "plain {text", code: 200,
			want: map[string]any{"method": "PUT", "data": "plain {text", "json": nil},
		},
		{
			name: "anything binary body", method: "PATCH", path: "/anything",
			body: "\xff\x00", code: 200,
			want: map[string]any{"data": "data:application/octet-stream;base64,/wA=", "json": nil},
		},
		{
			name: "anything keeps an unclean path", method: "GET", path: "/anything/a//b/../c%2Fd",
			code: 200,
			want: map[string]any{"path": "/anything/a//b/../c%2Fd"},
		},
		{
			name: "anything body too large", method: "POST", path: "/anything",
			body: strings.Repeat("x", maxBodyBytes+1), code: 413,
			want: map[string]any{"error": errBodyTooLarge.Error()},
		},
		{
			name: "ip ignores forwarded-for", method: "GET", path: "/ip",
			header: http.Header{"X-Forwarded-For": {"203.0.113.9, 10.0.0.1", "192.0.2.7"}},
			code:   200,
			want:   map[string]any{"origin": "127.0.0.1", "forwarded_for": "203.0.113.9, 10.0.0.1, 192.0.2.7"},
		},
		{
			name: "ip without forwarded-for", method: "GET", path: "/ip",
			code: 200, want: map[string]any{"origin": "127.0.0.1"}, absent: []string{"forwarded_for"},
		},
		{
			name: "index", method: "GET", path: "/", code: 200,
			want: map[string]any{"endpoints": []any{
				"/headers", "/anything", "/status/{code}", "/delay/{seconds}", "/ip", "/healthz", "/ws",
			}},
			absent: []string{"protocol"},
		},
		{
			name: "healthz", method: "GET", path: "/healthz", code: 200,
			want: map[string]any{"status": "ok"},
		},
		{
			name: "unknown path", method: "GET", path: "/nope/x", code: 404,
			want: map[string]any{"error": "not found", "path": "/nope/x"},
		},
		{
			name: "ws without upgrade", method: "GET", path: "/ws", code: 400,
			want: map[string]any{"path": "/ws"},
		},
	}
	for proto, c := range clients {
		for _, tt := range tests {
			t.Run(proto+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				res := do(t, c, tt.method, base+tt.path, tt.header, tt.body)
				if res.code != tt.code {
					t.Fatalf("status = %d, want %d; body %v", res.code, tt.code, res.body)
				}
				if got := res.header.Get("X-Backend-Name"); got != "v1" {
					t.Errorf("x-backend-name = %q, want v1", got)
				}
				if got := res.header.Get("Content-Type"); got != "application/json" {
					t.Errorf("content-type = %q, want application/json", got)
				}
				if res.body["backend"] != "v1" {
					t.Errorf("backend = %v, want v1", res.body["backend"])
				}
				want := map[string]any{}
				if tt.path != "/" && tt.path != "/healthz" {
					want["protocol"] = proto
					want["host"] = addr
				}
				for k, v := range tt.want {
					want[k] = v
				}
				for k, v := range want {
					if hdrs, ok := v.(map[string]any); ok && k == "headers" {
						checkHeaders(t, res.body[k], hdrs, proto)
						continue
					}
					if !reflect.DeepEqual(res.body[k], v) {
						t.Errorf("%s = %#v, want %#v", k, res.body[k], v)
					}
				}
				for _, k := range tt.absent {
					if v, ok := res.body[k]; ok {
						t.Errorf("%s = %#v, want absent", k, v)
					}
				}
			})
		}
	}
}

// checkHeaders compares the echoed headers the test controls; the Go client's User-Agent names
// its protocol version, which "{major}" stands for.
func checkHeaders(t *testing.T, got any, want map[string]any, proto string) {
	t.Helper()
	m, ok := got.(map[string]any)
	if !ok {
		t.Fatalf("headers = %#v, want an object", got)
	}
	major := "1.1"
	if proto == "HTTP/2.0" {
		major = "2.0"
	}
	for k, v := range want {
		if s, ok := v.(string); ok {
			v = strings.ReplaceAll(s, "{major}", major)
		}
		if m[k] != v {
			t.Errorf("headers[%s] = %#v, want %#v", k, m[k], v)
		}
	}
}
