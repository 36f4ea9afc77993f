package oidc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/authz/oidc/session"
	"github.com/gatehouse-dev/gatehouse/policy"
)

func TestSafeReturnTo(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		target string
		want   bool
	}{
		{"/", true},
		{"/app?x=1&y=%2F%2F", true},
		{"/a/b#frag", true},
		{"/a//b", true}, // only a leading "//" is scheme-relative
		{"", false},
		{"app", false},
		{"//evil.example/x", false},
		{"/\\evil.example", false},
		{"\\\\evil.example", false},
		{"https://evil.example/", false},
		{"javascript:alert(1)", false},
		{"/\t/evil.example", false},
		{"/ /evil.example", false},
		{"/\n/evil.example", false},
		{"/%0a", true}, // escaped, stays a path
	} {
		t.Run(tt.target, func(t *testing.T) {
			t.Parallel()
			if got := safeReturnTo(tt.target); got != tt.want {
				t.Errorf("safeReturnTo(%q) = %v, want %v", tt.target, got, tt.want)
			}
		})
	}
}

func TestHeaderMapping(t *testing.T) {
	t.Parallel()
	claims := map[string]any{
		"email": "accounts:alice@example.com", "sub": "alice", "groups": []any{"admins", "dev"},
		"one": "solo", "n": float64(42), "evil": "alice\r\nX-Admin: yes", "obj": map[string]any{"a": 1},
	}
	s := &session.Session{Claims: claims, IDToken: "id.tok.en"}
	for _, tt := range []struct {
		name      string
		spec      policy.OIDCHeaders
		want      http.Header
		wantStrip []string
	}{
		{"kubeflow userid with strip and prefix",
			policy.OIDCHeaders{UserID: policy.OIDCUserIDHeader{Name: "kubeflow-userid", Claim: "email", StripPrefix: "accounts:", Prefix: "u:"}},
			http.Header{"Kubeflow-Userid": {"u:alice@example.com"}}, []string{"Kubeflow-Userid"}},
		{"strip prefix absent leaves value",
			policy.OIDCHeaders{UserID: policy.OIDCUserIDHeader{Name: "x-user", Claim: "sub", StripPrefix: "nope:"}},
			http.Header{"X-User": {"alice"}}, []string{"X-User"}},
		{"groups list",
			policy.OIDCHeaders{Groups: policy.OIDCGroupsHeader{Name: "x-groups", Claim: "groups"}},
			http.Header{"X-Groups": {"admins,dev"}}, []string{"X-Groups"}},
		{"groups single string",
			policy.OIDCHeaders{Groups: policy.OIDCGroupsHeader{Name: "x-groups", Claim: "one"}},
			http.Header{"X-Groups": {"solo"}}, []string{"X-Groups"}},
		{"number claim",
			policy.OIDCHeaders{UserID: policy.OIDCUserIDHeader{Name: "x-user", Claim: "n"}},
			http.Header{"X-User": {"42"}}, []string{"X-User"}},
		{"missing claim sets nothing but still strips",
			policy.OIDCHeaders{UserID: policy.OIDCUserIDHeader{Name: "x-user", Claim: "absent"}},
			http.Header{}, []string{"X-User"}},
		{"object claim sets nothing",
			policy.OIDCHeaders{UserID: policy.OIDCUserIDHeader{Name: "x-user", Claim: "obj"}},
			http.Header{}, []string{"X-User"}},
		{"control characters refused",
			policy.OIDCHeaders{UserID: policy.OIDCUserIDHeader{Name: "x-user", Claim: "evil"}},
			http.Header{}, []string{"X-User"}},
		{"id token as bearer",
			policy.OIDCHeaders{IDToken: true},
			http.Header{"Authorization": {"Bearer id.tok.en"}}, []string{"Authorization"}},
		{"nothing configured", policy.OIDCHeaders{}, http.Header{}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newHeaderMapping(tt.spec)
			if got := m.set(s); !headersEqual(got, tt.want) {
				t.Errorf("set = %v, want %v", got, tt.want)
			}
			if got := m.strip(true); !slices.Equal(got, tt.wantStrip) {
				t.Errorf("strip(session) = %v, want %v", got, tt.wantStrip)
			}
			if got := m.strip(false); slices.Contains(got, "Authorization") {
				t.Errorf("strip(no session) = %v: Authorization must stay for RequestAuthentication", got)
			}
		})
	}
}

func headersEqual(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

func TestPathMatch(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		pattern, path string
		want          bool
	}{
		{"/healthz", "/healthz", true},
		{"/healthz", "/healthz/x", false},
		{"/public/*", "/public/a.css", true},
		{"/public/*", "/publicx", false},
		{"*.png", "/img/a.png", true},
		{"*", "/anything", true},
	} {
		if got := newPathMatch(tt.pattern).match(tt.path); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
}

func TestLoopCounter(t *testing.T) {
	t.Parallel()
	c := newLoopCounter(3, time.Minute)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, want := range []bool{true, true, true, false, false} {
		if got := c.allow("b1", t0.Add(time.Duration(i)*time.Second)); got != want {
			t.Errorf("attempt %d: allow = %v, want %v", i+1, got, want)
		}
	}
	if !c.allow("b2", t0) {
		t.Error("another browser is counted apart")
	}
	if !c.allow("b1", t0.Add(time.Minute)) {
		t.Error("a new window starts after the old one")
	}
}

// offlineSpec is an OIDCLogin, with defaults filled as decoding fills them, whose provider is
// never reached: requests that need no provider are tested with it.
func offlineSpec() *policy.OIDCLogin {
	return &policy.OIDCLogin{
		Issuer: "http://127.0.0.1:1", ClientID: "gatehouse", Scopes: []string{"openid", "email"},
		CallbackPath: policy.DefaultOIDCCallbackPath,
		Logout:       policy.OIDCLogout{Path: policy.DefaultOIDCLogoutPath, RedirectTo: "/"},
		Headers: policy.OIDCHeaders{
			UserID:  policy.OIDCUserIDHeader{Name: "kubeflow-userid", Claim: "email"},
			Groups:  policy.OIDCGroupsHeader{Name: "kubeflow-groups", Claim: "groups"},
			IDToken: true,
		},
		SkipPaths: []string{"/healthz", "/public/*"},
		Session: policy.OIDCSession{Store: policy.OIDCStoreMemory, CookieName: policy.DefaultOIDCCookieName,
			AbsoluteLifetime: policy.Duration(time.Hour), IdleLifetime: policy.Duration(time.Hour)},
	}
}

func newOffline(t *testing.T, o Options) (*Login, *session.Memory) {
	t.Helper()
	store := session.NewMemory(session.MemoryOptions{})
	o.Spec, o.Store = offlineSpec(), store
	l, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return l, store
}

// TestHandleWithoutProvider covers the answers that need no provider: API requests, skip
// paths, a live session, a provider that is down, and the redirect loop bound.
func TestHandleWithoutProvider(t *testing.T) {
	t.Parallel()
	l, store := newOffline(t, Options{})
	ctx := context.Background()
	if err := store.Put(ctx, "sid", &session.Session{Subject: "alice", IDToken: "id.tok.en",
		Claims: map[string]any{"email": "alice@example.com", "groups": []any{"a", "b"}}}); err != nil {
		t.Fatal(err)
	}
	spoofed := http.Header{"Kubeflow-Userid": {"admin"}, "Kubeflow-Groups": {"root"}, "Authorization": {"Bearer client"}}
	for _, tt := range []struct {
		name       string
		method     string
		path       string
		header     http.Header
		cookie     string
		wantStatus int // 0: passes
		wantCT     string
		wantGRPC   string
		wantSet    http.Header
	}{
		{"fetch gets 401 JSON", "GET", "/app", http.Header{"Accept": {"application/json"}}, "", 401, "application/json", "", nil},
		{"XHR gets 401", "GET", "/app", http.Header{"Accept": {"text/html"}, "X-Requested-With": {"XMLHttpRequest"}}, "", 401, "application/json", "", nil},
		{"fetch mode cors gets 401", "GET", "/app", http.Header{"Accept": {"text/html"}, "Sec-Fetch-Mode": {"cors"}}, "", 401, "application/json", "", nil},
		{"POST gets 401", "POST", "/app", http.Header{"Accept": {"text/html"}}, "", 401, "application/json", "", nil},
		{"gRPC gets UNAUTHENTICATED", "POST", "/pkg.Svc/Call", http.Header{"Content-Type": {"application/grpc+proto"}}, "", 200, "application/grpc", "16", nil},
		{"navigation with provider down gets 503", "GET", "/app", http.Header{"Accept": {"text/html"}}, "", 503, "text/html; charset=utf-8", "", nil},
		{"unknown session is none", "GET", "/app", http.Header{"Accept": {"application/json"}}, "nope", 401, "application/json", "", nil},
		{"skip path passes and strips identity", "GET", "/public/a.css", spoofed, "", 0, "", "", http.Header{"Authorization": {"Bearer client"}}},
		{"session passes with our headers", "POST", "/app", spoofed, "sid", 0, "", "", http.Header{
			"Kubeflow-Userid": {"alice@example.com"}, "Kubeflow-Groups": {"a,b"}, "Authorization": {"Bearer id.tok.en"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(tt.method, "https://gw.example"+tt.path, nil)
			for k, v := range tt.header {
				r.Header[k] = v
			}
			if tt.cookie != "" {
				r.AddCookie(&http.Cookie{Name: policy.DefaultOIDCCookieName, Value: tt.cookie})
				r.AddCookie(&http.Cookie{Name: "theirs", Value: "kept"})
				tt.wantSet = tt.wantSet.Clone()
				if tt.wantSet != nil {
					tt.wantSet.Set("Cookie", "theirs=kept")
				}
			}
			w := httptest.NewRecorder()
			out := l.Handle(w, r)
			if tt.wantStatus == 0 {
				if out.Answered {
					t.Fatalf("answered %d, want a pass", w.Code)
				}
				out.Apply(r.Header)
				if !headersEqual(r.Header, tt.wantSet) {
					t.Errorf("upstream headers %v, want %v", r.Header, tt.wantSet)
				}
				return
			}
			if !out.Answered || w.Code != tt.wantStatus {
				t.Fatalf("answered %v with %d, want %d", out.Answered, w.Code, tt.wantStatus)
			}
			if got := w.Header().Get("Content-Type"); got != tt.wantCT {
				t.Errorf("content-type %q, want %q", got, tt.wantCT)
			}
			if got := w.Header().Get("Grpc-Status"); got != tt.wantGRPC {
				t.Errorf("grpc-status %q, want %q", got, tt.wantGRPC)
			}
		})
	}
}

func TestRedirectLoopStopped(t *testing.T) {
	t.Parallel()
	l, _ := newOffline(t, Options{LoopLimit: 3})
	browser := &http.Cookie{Name: policy.DefaultOIDCCookieName + "_login", Value: session.NewID()}
	var codes []int
	for range 5 {
		r := httptest.NewRequest("GET", "https://gw.example/app", nil)
		r.Header.Set("Accept", "text/html")
		r.AddCookie(browser)
		w := httptest.NewRecorder()
		l.Handle(w, r)
		codes = append(codes, w.Code)
	}
	// The provider is down here (503); what matters is that the count stops the attempts.
	if want := []int{503, 503, 503, 429, 429}; !slices.Equal(codes, want) {
		t.Errorf("codes %v, want %v", codes, want)
	}
}

func TestCallbackRefusals(t *testing.T) {
	t.Parallel()
	l, store := newOffline(t, Options{})
	ctx := context.Background()
	browser := session.NewID()
	if err := store.PutLogin(ctx, "st", &session.LoginAttempt{BrowserID: browser, ReturnTo: "/"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	call := func(query url.Values, cookie string) (int, string) {
		r := httptest.NewRequest("GET", "https://gw.example/oauth2/callback?"+query.Encode(), nil)
		if cookie != "" {
			r.AddCookie(&http.Cookie{Name: policy.DefaultOIDCCookieName + "_login", Value: cookie})
		}
		w := httptest.NewRecorder()
		if out := l.Handle(w, r); !out.Answered {
			t.Fatal("callback passed")
		}
		return w.Code, w.Body.String()
	}
	if code, body := call(url.Values{"code": {"c"}}, browser); code != 400 || !strings.Contains(body, "no state") {
		t.Errorf("missing state: %d %s", code, body)
	}
	if code, body := call(url.Values{"code": {"c"}, "state": {"st"}}, session.NewID()); code != 400 || !strings.Contains(body, "another browser") {
		t.Errorf("foreign browser: %d %s", code, body)
	}
	// The foreign try consumed the attempt: its owner cannot use it either.
	if code, body := call(url.Values{"code": {"c"}, "state": {"st"}}, browser); code != 400 || !strings.Contains(body, "already used") {
		t.Errorf("after a foreign try: %d %s", code, body)
	}
}
