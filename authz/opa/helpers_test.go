package opa

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/authz"
)

// fixedNow stamps attributes.request.time in tests.
var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 123000000, time.UTC)

// token is an HS256 JWT with the given claims. The policies only decode it (io.jwt.decode), as
// opa-envoy-plugin's tutorial policies do behind an Envoy jwt_authn filter that verified it.
func token(t testing.TB, claims map[string]any) string {
	t.Helper()
	enc := base64.RawURLEncoding
	hdr := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	body, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signing := hdr + "." + enc.EncodeToString(body)
	mac := hmac.New(sha256.New, []byte("test-secret"))
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

// request is an HTTP request as the gateway would fill it.
func request(method, path, rawQuery string, hdrs ...string) *authz.Request {
	h := http.Header{}
	for i := 0; i+1 < len(hdrs); i += 2 {
		h.Add(hdrs[i], hdrs[i+1])
	}
	return &authz.Request{
		Workload:        authz.NewWorkload("default", map[string]string{"app": "books"}),
		HTTP:            true,
		Method:          method,
		Host:            "books.example.com",
		Path:            path,
		RawQuery:        rawQuery,
		Scheme:          "https",
		Header:          h,
		Source:          netip.MustParseAddrPort("10.1.2.3:45678"),
		RemoteIP:        netip.MustParseAddr("10.1.2.3"),
		Destination:     netip.MustParseAddrPort("10.9.8.7:8443"),
		SourcePrincipal: "cluster.local/ns/default/sa/sleep",
	}
}

func newProvider(t testing.TB, opts Options) *Provider {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return fixedNow }
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
