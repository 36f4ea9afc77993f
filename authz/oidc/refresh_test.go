package oidc

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/authz/oidc/session"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/test/peers/oidcpeer"
	"github.com/gatehouse-dev/gatehouse/test/peers/redispeer"
)

func TestNeedsRefresh(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	unix := func(d time.Duration) float64 { return float64(t0.Add(d).Unix()) }
	for _, tt := range []struct {
		name string
		s    session.Session
		at   time.Duration // after t0
		want bool
	}{
		{"no refresh token", session.Session{TokenExpiry: t0}, time.Hour, false},
		{"no expiry known", session.Session{RefreshToken: "r"}, time.Hour, false},
		{"long-lived: 30 s margin", session.Session{RefreshToken: "r", TokenExpiry: t0.Add(time.Hour), Claims: map[string]any{"iat": unix(0)}}, time.Hour - 31*time.Second, false},
		{"long-lived: in the margin", session.Session{RefreshToken: "r", TokenExpiry: t0.Add(time.Hour), Claims: map[string]any{"iat": unix(0)}}, time.Hour - 30*time.Second, true},
		{"short-lived: last tenth", session.Session{RefreshToken: "r", TokenExpiry: t0.Add(10 * time.Second), Claims: map[string]any{"iat": unix(0)}}, 8900 * time.Millisecond, false},
		{"short-lived: in the last tenth", session.Session{RefreshToken: "r", TokenExpiry: t0.Add(10 * time.Second), Claims: map[string]any{"iat": unix(0)}}, 9 * time.Second, true},
		{"expired", session.Session{RefreshToken: "r", TokenExpiry: t0}, time.Hour, true},
		{"id token expires first", session.Session{RefreshToken: "r", TokenExpiry: t0.Add(time.Hour), Claims: map[string]any{"iat": unix(0), "exp": unix(time.Minute)}}, 55 * time.Second, true},
		{"an expired id token stays due", session.Session{RefreshToken: "r", TokenExpiry: t0.Add(time.Hour), Claims: map[string]any{"iat": unix(0), "exp": unix(time.Minute)}}, 2 * time.Minute, true},
		{"an id token kept from an earlier grant does not count", session.Session{RefreshToken: "r", TokenExpiry: t0.Add(time.Hour), IDTokenKept: true, Claims: map[string]any{"iat": unix(0), "exp": unix(time.Minute)}}, 2 * time.Minute, false},
		// The id token and the access token expire nearly together; once due, a session stays
		// due past the id token's exp (a deadline that moved back would pass stale tokens on).
		{"due past the id token's exp while the access token lives", session.Session{RefreshToken: "r", TokenExpiry: t0.Add(2*time.Second + 300*time.Millisecond), Claims: map[string]any{"iat": unix(0), "exp": unix(2 * time.Second)}}, 2*time.Second + 100*time.Millisecond, true},
		{"id token only", session.Session{RefreshToken: "r", Claims: map[string]any{"iat": unix(0), "exp": unix(time.Hour)}}, time.Hour - 10*time.Second, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := needsRefresh(&tt.s, t0.Add(tt.at)); got != tt.want {
				t.Errorf("needsRefresh = %v, want %v", got, tt.want)
			}
		})
	}
}

// tokenCalls counts the refresh_token grants sent to the token endpoint and the ones refused.
type tokenCalls struct {
	endpoint         string
	refreshes, fails atomic.Int32
}

func (c *tokenCalls) RoundTrip(req *http.Request) (*http.Response, error) {
	refresh := false
	if req.Method == http.MethodPost && req.URL.String() == c.endpoint && req.GetBody != nil {
		if b, err := req.GetBody(); err == nil {
			raw, _ := io.ReadAll(b)
			refresh = strings.Contains(string(raw), "grant_type=refresh_token")
		}
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if refresh {
		c.refreshes.Add(1)
		if err != nil || resp.StatusCode != http.StatusOK {
			c.fails.Add(1)
		}
	}
	return resp, err
}

// TestRefreshAgainstProvider signs in against the real provider with 2 s tokens, then sends
// bursts of concurrent requests on one session once its tokens are due: each burst refreshes
// exactly once (a second redemption of the rotating refresh token would make the provider
// revoke the grant, and the next burst would fail). With Redis, two Logins on one Redis are two
// replicas: the user signs in through one and the bursts alternate between them.
func TestRefreshAgainstProvider(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		replicas int
		store    func(t *testing.T) session.Store
	}{
		{"memory", 1, func(t *testing.T) session.Store { return session.NewMemory(session.MemoryOptions{}) }},
		{"redis two replicas", 2, func(t *testing.T) session.Store {
			client := redis.NewClient(&redis.Options{Addr: redispeer.Start(t)})
			t.Cleanup(func() { client.Close() })
			ring, err := session.NewKeyRing(session.Key{ID: "k1", Secret: []byte("0123456789abcdef0123456789abcdef")})
			if err != nil {
				t.Fatal(err)
			}
			s, err := session.NewRedis(session.RedisOptions{Client: client, Keys: ring, Lifetimes: session.Lifetimes{Absolute: time.Hour, Idle: time.Hour}})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			oidcpeer.SkipIfMissing(t)
			store := tt.store(t)
			servers := make([]*httptest.Server, tt.replicas)
			var redirects []string
			for i := range servers {
				servers[i] = httptest.NewUnstartedServer(nil)
				redirects = append(redirects, "https://"+servers[i].Listener.Addr().String()+policy.DefaultOIDCCallbackPath)
			}
			client := oidcpeer.Client{ID: "gatehouse", Secret: "s3cret", RedirectURIs: redirects}
			peer := oidcpeer.Start(t, oidcpeer.Options{
				Clients:        []oidcpeer.Client{client},
				Users:          []oidcpeer.User{{ID: "alice", Email: "alice@example.com"}},
				AccessTokenTTL: 2 * time.Second, IDTokenTTL: 2 * time.Second,
			})
			calls := &tokenCalls{endpoint: peer.Discovery.TokenEndpoint}
			for _, ts := range servers {
				spec := offlineSpec()
				spec.Issuer = peer.Issuer
				spec.Scopes = []string{"openid", "email", "offline_access"}
				spec.Prompt = "consent"
				l, err := New(Options{Spec: spec, ClientSecret: client.Secret, Store: store, HTTPClient: &http.Client{Transport: calls}})
				if err != nil {
					t.Fatal(err)
				}
				ts.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					out := l.Handle(w, r)
					if out.Answered {
						return
					}
					out.Apply(r.Header)
					_ = json.NewEncoder(w).Encode(echoed{User: r.Header.Get("Kubeflow-Userid"), Authorization: r.Header.Get("Authorization")})
				})
				ts.StartTLS()
				t.Cleanup(ts.Close)
			}
			// One cookie jar for all replicas: cookies do not depend on the port.
			b := oidcpeer.NewBrowser(t, servers[0].Client().Transport)
			get := func(i int, accept string) (*http.Response, error) {
				req, _ := http.NewRequest(http.MethodGet, servers[i%len(servers)].URL+"/app", nil)
				req.Header.Set("Accept", accept)
				return b.Do(req)
			}
			resp, err := get(0, "text/html")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			cb := peer.SignIn(t, b, resp.Header.Get("Location"), "alice")
			if resp, err = b.Get(cb.String()); err != nil || resp.StatusCode != http.StatusFound {
				t.Fatalf("callback: %v %v", resp, err)
			}
			resp.Body.Close()
			var sid string
			for _, c := range b.Jar.Cookies(must(url.Parse(servers[0].URL))) {
				if c.Name == policy.DefaultOIDCCookieName {
					sid = c.Value
				}
			}
			current := func() *session.Session {
				s, err := store.Get(t.Context(), sid)
				if err != nil {
					t.Fatalf("session: %v", err)
				}
				return s
			}

			for burst := 1; burst <= 2; burst++ {
				before := current()
				deadline := time.Now().Add(10 * time.Second)
				for !needsRefresh(before, time.Now()) { // waiting on the clock, not on state
					if time.Now().After(deadline) {
						t.Fatal("tokens never came due")
					}
					time.Sleep(20 * time.Millisecond)
				}
				const n = 8
				var wg sync.WaitGroup
				var users [n]string
				var tokens [n]string
				for i := range n {
					wg.Go(func() {
						resp, err := get(i, "application/json")
						if err != nil {
							t.Error(err)
							return
						}
						defer resp.Body.Close()
						var e echoed
						if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&e) != nil {
							t.Errorf("burst %d request %d: %d", burst, i, resp.StatusCode)
						}
						users[i], tokens[i] = e.User, e.Authorization
					})
				}
				wg.Wait()
				after := current()
				if got := calls.refreshes.Load(); got != int32(burst) || calls.fails.Load() != 0 {
					t.Fatalf("burst %d: %d refresh calls (%d refused), want %d in all, none refused", burst, got, calls.fails.Load(), burst)
				}
				if after.RefreshToken == before.RefreshToken || after.AccessToken == before.AccessToken || after.IDToken == before.IDToken {
					t.Fatalf("burst %d: tokens not replaced", burst)
				}
				for i := range n {
					if users[i] != "alice@example.com" || tokens[i] != "Bearer "+after.IDToken {
						t.Errorf("burst %d request %d: upstream saw %q with a stale id token: %v", burst, i, users[i], tokens[i] != "Bearer "+after.IDToken)
					}
				}
			}

			// A refresh the provider refuses ends the session: an API request gets 401, a
			// browser goes to the provider, and no second refresh is tried.
			s := current()
			s.RefreshToken = "not-a-refresh-token"
			s.TokenExpiry = time.Now().Add(-time.Second)
			if err := store.Put(t.Context(), sid, s); err != nil {
				t.Fatal(err)
			}
			if resp, err = get(1, "application/json"); err != nil || resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("after a refused refresh: %v %v, want 401", resp, err)
			}
			resp.Body.Close()
			if _, err := store.Get(t.Context(), sid); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("session after a refused refresh: %v, want ended", err)
			}
			if resp, err = get(0, "text/html"); err != nil || resp.StatusCode != http.StatusFound ||
				!strings.HasPrefix(resp.Header.Get("Location"), peer.Discovery.AuthorizationEndpoint) {
				t.Fatalf("browser after a refused refresh: %v %v, want 302 to the provider", resp, err)
			}
			resp.Body.Close()
			if got := calls.refreshes.Load(); got != 3 {
				t.Errorf("%d refresh calls, want 3", got)
			}
		})
	}
}
