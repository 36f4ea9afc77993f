package extauthz

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHTTPCheck(t *testing.T) {
	t.Parallel()
	sig := newSigner(t)
	_, srv := newTestEngine(t, testPolicies(sig))
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	good := sig.token(t, "https://issuer.example", "alice")

	tests := []struct {
		name    string
		method  string
		path    string
		headers map[string]string
		status  int
		body    string
		want    map[string]string // response headers
	}{
		{"allowed", "GET", "/check/ip", map[string]string{HeaderNamespace: "foo"}, 200, "", nil},
		{"DENY by path", "GET", "/check/admin?x=1", map[string]string{HeaderNamespace: "foo"}, 403, "RBAC: access denied", nil},
		{"path normalized", "GET", "/check/x/%2e%2e/admin", map[string]string{HeaderNamespace: "foo"}, 403, "RBAC: access denied", nil},
		{"default workload", "GET", "/check/admin", nil, 200, "", nil},
		{"labels from header", "POST", "/check/ip", map[string]string{HeaderNamespace: "foo", HeaderLabels: "app=httpbin"}, 403, "RBAC: access denied", nil},
		{"outside the path prefix", "GET", "/other", nil, 400, "path does not start with the path prefix", nil},
		{"bad JWT", "GET", "/check/ip", map[string]string{HeaderNamespace: "foo", "Authorization": "Bearer " + good + "x"}, 401, "Jwt verification fails", map[string]string{"Www-Authenticate": ""}},
		{"good JWT", "GET", "/check/ip", map[string]string{HeaderNamespace: "foo", "Authorization": "Bearer " + good}, 200, "",
			map[string]string{"X-Jwt-Sub": "alice", HeaderAuthHeadersToRemove: ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(tt.method, ts.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != tt.status || string(body) != tt.body {
				t.Fatalf("%d %q, want %d %q", resp.StatusCode, body, tt.status, tt.body)
			}
			for k, v := range tt.want {
				got := resp.Header.Get(k)
				if got == "" || (v != "" && got != v) {
					t.Fatalf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestXFCCPrincipal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		values []string
		want   string
	}{
		{nil, ""},
		{[]string{`By=spiffe://cluster.local/ns/gw/sa/gw;Hash=abc;URI=spiffe://cluster.local/ns/foo/sa/sleep`}, "cluster.local/ns/foo/sa/sleep"},
		{[]string{`URI=spiffe://td/ns/a/sa/x,By=b;Subject="CN=x,O=y";URI=spiffe://td/ns/b/sa/y`}, "td/ns/b/sa/y"},
		{[]string{`URI=spiffe://td/ns/a/sa/x`, `Hash=abc`}, ""},
		{[]string{`URI=https://example.com/x`}, ""},
	}
	for _, tt := range tests {
		if got := xfccPrincipal(tt.values); got != tt.want {
			t.Errorf("xfccPrincipal(%q) = %q, want %q", tt.values, got, tt.want)
		}
	}
}
