package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/authz/jwt"
	"github.com/gatehouse-dev/gatehouse/policy"
)

const explainPolicy = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: api, namespace: istio-system}
spec:
  rules:
  - to: [{operation: {methods: [POST], paths: ["/api/*"]}}]
`

// explainFlagsFor is `gatehouse explain --config dir` with the flags' defaults.
func explainFlagsFor(dir string) explainFlags {
	return explainFlags{workloadFlags: defaultWorkloadFlags(), config: dir, serviceName: "istio-ingressgateway",
		method: http.MethodGet, host: "localhost", path: "/", sourceIP: "127.0.0.1", port: 8080}
}

func TestExplainCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeConfig(t, filepath.Join(dir, "policy.yaml"), explainPolicy)
	tests := []struct {
		name string
		mod  func(*explainFlags)
		want []string
	}{
		{"nearest rule of a denial", func(f *explainFlags) { f.path = "/x/../api/orders?access_token=secret" }, []string{
			`decision: DENY 403 "RBAC: access denied"`,
			`path: BASE "/x/../api/orders" -> "/api/orders"`,
			"to.operation.methods [POST] does not contain GET",
			"access_token=%5Bredacted%5D",
		}},
		{"allowed", func(f *explainFlags) { f.method, f.path = "POST", "/api/orders" }, []string{
			"decision: ALLOW 200", "policy: ns[istio-system]-policy[api]-rule[0]",
		}},
		{"headers and token are redacted", func(f *explainFlags) {
			f.headers, f.token = []string{"X-Env: prod", "Cookie: session=abc"}, "abc.def.ghi"
		}, []string{"x-env: prod", "cookie: [redacted]", "authorization: Bearer [redacted]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := explainFlagsFor(dir)
			tc.mod(&f)
			var out, errOut bytes.Buffer
			if err := runExplain(context.Background(), f, &out, &errOut); err != nil {
				t.Fatalf("explain: %v\n%s", err, errOut.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if strings.Contains(out.String(), "secret") || strings.Contains(out.String(), "abc.def") {
				t.Errorf("a credential is printed:\n%s", out.String())
			}
		})
	}
}

func TestExplainCommandJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeConfig(t, filepath.Join(dir, "policy.yaml"), explainPolicy)
	f := explainFlagsFor(dir)
	f.json = true
	var out, errOut bytes.Buffer
	if err := runExplain(context.Background(), f, &out, &errOut); err != nil {
		t.Fatalf("explain: %v", err)
	}
	var ex authz.Explanation
	if err := json.Unmarshal(out.Bytes(), &ex); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	if ex.Decision.Stage != "no-allow-match" || ex.Allow.Nearest == nil || ex.Allow.Nearest.Rule != "ns[istio-system]-policy[api]-rule[0]" {
		t.Fatalf("explanation %+v", ex)
	}
}

func TestExplainCommandErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeConfig(t, filepath.Join(dir, "policy.yaml"), explainPolicy)
	bad := t.TempDir()
	writeConfig(t, filepath.Join(bad, "policy.yaml"), "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: x}\nspec: {action: NOPE}\n")
	tests := []struct {
		name string
		mod  func(*explainFlags)
		want string
	}{
		{"header without colon", func(f *explainFlags) { f.headers = []string{"nocolon"} }, "-H"},
		{"bad source ip", func(f *explainFlags) { f.sourceIP = "x" }, "--source-ip"},
		{"bad remote ip", func(f *explainFlags) { f.remoteIP = "x" }, "--remote-ip"},
		{"invalid config", func(f *explainFlags) { f.config = bad }, "does not load"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := explainFlagsFor(dir)
			tc.mod(&f)
			var out, errOut bytes.Buffer
			err := runExplain(context.Background(), f, &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// TestDebugAuthz serves /debug/authz from an engine that denied one request with a token.
func TestDebugAuthz(t *testing.T) {
	t.Parallel()
	snap, ps := policy.ParseSnapshot(map[string][]byte{"p.yaml": []byte(explainPolicy)})
	if snap == nil {
		t.Fatal(ps)
	}
	keys := jwt.NewKeys(jwt.KeysOptions{})
	t.Cleanup(keys.Close)
	c, err := authz.Compile(snap, keys)
	if err != nil {
		t.Fatal(err)
	}
	e := authz.NewEngine(authz.Options{})
	e.Apply(c)
	log := e.RecordDenials(10)
	w := authz.NewWorkload("istio-system", map[string]string{"istio": "ingressgateway"})
	e.Check(context.Background(), &authz.Request{Workload: w, HTTP: true, Method: "GET", Host: "h", Path: "/api/x",
		Header: http.Header{"Authorization": {"Bearer eyJhbGciOi.eyJzdWIi.sig"}}, Source: netip.MustParseAddrPort("10.0.0.1:1")})

	mux := adminMux(nil, nil, func() *authz.DenialLog { return log })
	for _, tc := range []struct{ query, want string }{
		{"", `"rule": "ns[istio-system]-policy[api]-rule[0]"`},
		{"?format=text", "to.operation.methods [POST] does not contain GET"},
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/authz"+tc.query, nil))
		body := rec.Body.String()
		if rec.Code != http.StatusOK || !strings.Contains(body, tc.want) {
			t.Errorf("/debug/authz%s: %d, want %q in:\n%s", tc.query, rec.Code, tc.want, body)
		}
		if strings.Contains(body, "eyJ") {
			t.Errorf("/debug/authz%s prints the token:\n%s", tc.query, body)
		}
	}

	rec := httptest.NewRecorder()
	adminMux(nil, nil, func() *authz.DenialLog { return nil }).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/authz", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"denials": []`) {
		t.Errorf("without an engine: %d %s", rec.Code, rec.Body.String())
	}
}
