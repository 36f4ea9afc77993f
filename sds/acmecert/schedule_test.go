package acmecert

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"golang.org/x/crypto/acme"
)

func TestRenewAt(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		lifetime time.Duration
		want     time.Duration // after NotBefore
	}{
		{"let's encrypt 90 days renews at day 60", 90 * 24 * time.Hour, 60 * 24 * time.Hour},
		{"pebble test 30s renews at 20s", 30 * time.Second, 20 * time.Second},
		{"pebble's one second short", 29 * time.Second, 29*time.Second - 29*time.Second/3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := renewAt(start, start.Add(tc.lifetime)); !got.Equal(start.Add(tc.want)) {
				t.Errorf("renewAt = %v after NotBefore, want %v", got.Sub(start), tc.want)
			}
		})
	}
}

func TestBackoffBounds(t *testing.T) {
	t.Parallel()
	lo, hi := 2*time.Minute, 12*time.Hour
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{
		{0, lo}, {1, lo}, {2, 4 * time.Minute}, {3, 8 * time.Minute}, {9, 512 * time.Minute},
		{10, hi}, {11, hi}, {1000, hi},
	} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			t.Parallel()
			if got := backoff(tc.n, lo, hi); got != tc.want {
				t.Errorf("backoff(%d) = %v, want %v", tc.n, got, tc.want)
			}
		})
	}
}

func TestFailureWaitHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rateLimited := func(v string) error {
		return fmt.Errorf("new order: %w", &acme.Error{StatusCode: 429, ProblemType: "urn:ietf:params:acme:error:rateLimited",
			Header: http.Header{"Retry-After": {v}}})
	}
	for _, tc := range []struct {
		name string
		err  error
		want time.Duration
	}{
		{"plain error backs off", fmt.Errorf("dial: refused"), time.Minute},
		{"retry-after seconds longer than backoff", rateLimited("3600"), time.Hour},
		{"retry-after date", rateLimited(now.Add(2 * time.Hour).Format(http.TimeFormat)), 2 * time.Hour},
		{"retry-after shorter than backoff", rateLimited("1"), time.Minute},
		{"retry-after garbage", rateLimited("soon"), time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := failureWait(1, tc.err, now, time.Minute, 12*time.Hour); got != tc.want {
				t.Errorf("failureWait = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestClientRetryBackoff(t *testing.T) {
	t.Parallel()
	res := func(code int, h http.Header) *http.Response { return &http.Response{StatusCode: code, Header: h} }
	for _, tc := range []struct {
		name string
		n    int
		res  *http.Response
		want time.Duration
	}{
		{"bad nonce retried", 1, res(400, http.Header{}), 250 * time.Millisecond},
		{"5xx retried", 3, res(503, http.Header{}), time.Second},
		{"gives up after three", 4, res(503, http.Header{}), 0},
		{"429 goes to the worker", 1, res(429, http.Header{}), 0},
		{"retry-after goes to the worker", 1, res(503, http.Header{"Retry-After": {"60"}}), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := clientRetryBackoff(tc.n, nil, tc.res); got != tc.want {
				t.Errorf("clientRetryBackoff = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCertCacheKey(t *testing.T) {
	t.Parallel()
	a := certCacheKey("https://ca/dir", []string{"a.example", "b.example"})
	if b := certCacheKey("https://ca/dir", []string{"b.example", "a.example"}); a != b {
		t.Errorf("host order changes the key: %s vs %s", a, b)
	}
	for _, other := range []string{
		certCacheKey("https://other/dir", []string{"a.example", "b.example"}),
		certCacheKey("https://ca/dir", []string{"a.example"}),
		certCacheKey("https://ca/dir", []string{"a.exampleb.example"}),
	} {
		if other == a {
			t.Errorf("different certificates share key %s", a)
		}
	}
}

func TestOrderSpacing(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		lifetime, minBackoff, want time.Duration
	}{
		{90 * 24 * time.Hour, 2 * time.Minute, 2 * time.Minute}, // Let's Encrypt: MinBackoff
		{30 * time.Second, 2 * time.Minute, 3 * time.Second},    // a test CA: a tenth of the lifetime
		{5 * time.Second, 2 * time.Minute, time.Second},         // never under a second
	} {
		if got := orderSpacing(start, start.Add(tt.lifetime), tt.minBackoff); got != tt.want {
			t.Errorf("orderSpacing(lifetime %v, min %v) = %v, want %v", tt.lifetime, tt.minBackoff, got, tt.want)
		}
	}
}
