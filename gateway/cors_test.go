package gateway

import (
	"net/http"
	"testing"
)

func TestCORS(t *testing.T) {
	t.Parallel()
	up := backend(t, "app")
	cors := func(unmatched string) string {
		return `    corsPolicy:
      allowOrigins: [{exact: "https://a.example.com"}, {regex: "https://.*[.]b[.]example[.]com"}]
      allowMethods: [GET, POST]
      allowHeaders: [x-a]
      exposeHeaders: [x-c]
      maxAge: 1h
      allowCredentials: true
      unmatchedPreflights: ` + unmatched + "\n"
	}
	tests := []struct {
		name      string
		unmatched string
		method    string
		headers   []string
		want      int
		backend   string
		allow     string
		hdr, val  string
	}{
		{"preflight answered", "FORWARD", "OPTIONS", []string{"Origin", "https://a.example.com", "Access-Control-Request-Method", "POST"}, 200, "", "https://a.example.com", "Access-Control-Allow-Methods", "GET,POST"},
		{"preflight max age", "FORWARD", "OPTIONS", []string{"Origin", "https://x.b.example.com", "Access-Control-Request-Method", "POST"}, 200, "", "https://x.b.example.com", "Access-Control-Max-Age", "3600"},
		{"unmatched preflight forwarded", "FORWARD", "OPTIONS", []string{"Origin", "https://evil.com", "Access-Control-Request-Method", "POST"}, 200, "app", "", "", ""},
		{"unmatched preflight ignored", "IGNORE", "OPTIONS", []string{"Origin", "https://evil.com", "Access-Control-Request-Method", "POST"}, 200, "", "", "", ""},
		{"simple request gets headers", "FORWARD", "GET", []string{"Origin", "https://a.example.com"}, 200, "app", "https://a.example.com", "Access-Control-Expose-Headers", "x-c"},
		{"credentials", "FORWARD", "GET", []string{"Origin", "https://a.example.com"}, 200, "app", "https://a.example.com", "Access-Control-Allow-Credentials", "true"},
		{"other origin gets none", "FORWARD", "GET", []string{"Origin", "https://evil.com"}, 200, "app", "", "Access-Control-Expose-Headers", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := startGateway(t, snapshot(t, 1, edgeGateway, staticEntry("app", "app.internal", port(t, up)), routeHTTP("app.internal", cors(tt.unmatched))))
			req, err := http.NewRequest(tt.method, "http://"+g.addr(t, 80)+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i+1 < len(tt.headers); i += 2 {
				req.Header.Set(tt.headers[i], tt.headers[i+1])
			}
			res, err := newClient(t).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = res.Body.Close()
			if res.StatusCode != tt.want || res.Header.Get("X-Backend") != tt.backend || res.Header.Get("Access-Control-Allow-Origin") != tt.allow {
				t.Errorf("got %d backend %q allow-origin %q, want %d %q %q", res.StatusCode, res.Header.Get("X-Backend"), res.Header.Get("Access-Control-Allow-Origin"), tt.want, tt.backend, tt.allow)
			}
			if tt.hdr != "" && res.Header.Get(tt.hdr) != tt.val {
				t.Errorf("%s = %q, want %q", tt.hdr, res.Header.Get(tt.hdr), tt.val)
			}
		})
	}
}
