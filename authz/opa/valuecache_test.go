package opa

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// TestVerifiedTokenCacheRechecksClaims: with OPA's io_jwt cache on, a token whose signature was
// verified once is not verified again, but its claims still are: the same token, cached as valid
// before its exp, is refused after it.
func TestVerifiedTokenCacheRechecksClaims(t *testing.T) {
	t.Parallel()
	p := newProvider(t, Options{Modules: map[string]string{"verify.rego": `package envoy.authz

default allow := false

now_ns := to_number(input.attributes.request.http.headers["x-now"]) * 1000000000

allow if {
	[valid, _, _] := io.jwt.decode_verify(
		trim_prefix(input.attributes.request.http.headers.authorization, "Bearer "),
		{"secret": "test-secret", "time": now_ns},
	)
	valid
}
`}})
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tok := token(t, map[string]any{"sub": "alice", "exp": exp.Unix()})
	check := func(now time.Time) bool {
		r := request("GET", "/books", "", "Authorization", "Bearer "+tok, "X-Now", strconv.FormatInt(now.Unix(), 10))
		res := p.Check(context.Background(), r, nil)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		return res.Allowed
	}
	for range 2 {
		if !check(exp.Add(-time.Hour)) {
			t.Fatal("a valid token before its exp was refused")
		}
	}
	if check(exp.Add(time.Hour)) {
		t.Fatal("the cached token was allowed after its exp")
	}
	if tampered := tok[:len(tok)-2] + "xx"; tampered != tok {
		r := request("GET", "/books", "", "Authorization", "Bearer "+tampered, "X-Now", strconv.FormatInt(exp.Add(-time.Hour).Unix(), 10))
		if p.Check(context.Background(), r, nil).Allowed {
			t.Fatal("a token with a bad signature was allowed")
		}
	}
}
