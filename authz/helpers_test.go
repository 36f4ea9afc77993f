package authz

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/gatehouse-dev/gatehouse/authz/jwt"
	"github.com/gatehouse-dev/gatehouse/authz/jwt/jwttest"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// compileDocs parses YAML documents into a snapshot and compiles it, failing on any problem.
func compileDocs(t testing.TB, docs ...string) *Compiled {
	t.Helper()
	snap, ps := policy.ParseSnapshot(map[string][]byte{"test.yaml": []byte(strings.Join(docs, "\n---\n"))})
	if snap == nil {
		t.Fatalf("config does not load:\n%v", ps)
	}
	keys := jwt.NewKeys(jwt.KeysOptions{})
	t.Cleanup(keys.Close)
	c, err := Compile(snap, keys)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return c
}

// newEngine is an Engine serving docs.
func newEngine(t testing.TB, opts Options, docs ...string) *Engine {
	t.Helper()
	e := NewEngine(opts)
	e.Apply(compileDocs(t, docs...))
	return e
}

// Workloads the tests send requests to.
var (
	httpbinFoo  = NewWorkload("foo", map[string]string{"app": "httpbin", "version": "v1"})
	httpbinBar  = NewWorkload("bar", map[string]string{"app": "httpbin", "version": "v1"})
	otherBar    = NewWorkload("bar", map[string]string{"app": "other"})
	productsDef = NewWorkload("default", map[string]string{"app": "products"})
	ingress     = NewWorkload("istio-system", map[string]string{"istio": "ingressgateway", "app": "istio-ingressgateway"}, "istio-ingressgateway")
)

// req builds an HTTP GET to host httpbin.foo path / on port 8080 from 10.0.0.1, then applies mods.
func req(w *Workload, mods ...func(*Request)) *Request {
	r := &Request{
		Workload:    w,
		HTTP:        true,
		Method:      "GET",
		Host:        "httpbin.foo",
		Path:        "/",
		Scheme:      "http",
		Header:      http.Header{},
		Source:      netip.MustParseAddrPort("10.0.0.1:40000"),
		RemoteIP:    netip.MustParseAddr("10.0.0.1"),
		Destination: netip.MustParseAddrPort("10.0.0.2:8080"),
	}
	for _, m := range mods {
		m(r)
	}
	return r
}

func method(m string) func(*Request) { return func(r *Request) { r.Method = m } }
func path(p string) func(*Request)   { return func(r *Request) { r.Path = p } }
func host(h string) func(*Request)   { return func(r *Request) { r.Host = h } }
func peer(p string) func(*Request)   { return func(r *Request) { r.SourcePrincipal = p } }
func port(p uint16) func(*Request) {
	return func(r *Request) { r.Destination = netip.AddrPortFrom(r.Destination.Addr(), p) }
}
func srcIP(ip string) func(*Request) {
	return func(r *Request) { r.Source = netip.AddrPortFrom(netip.MustParseAddr(ip), 40000) }
}
func remoteIP(ip string) func(*Request) {
	return func(r *Request) { r.RemoteIP = netip.MustParseAddr(ip) }
}
func header(k, v string) func(*Request) { return func(r *Request) { r.Header.Add(k, v) } }
func bearer(tok string) func(*Request)  { return header("Authorization", "Bearer "+tok) }
func sni(s string) func(*Request)       { return func(r *Request) { r.SNI = s } }

// tcp turns the request into a plain TCP connection.
func tcp(r *Request) {
	r.HTTP, r.Method, r.Host, r.Path, r.Scheme, r.Header = false, "", "", "", "", nil
}

// check is one request and the decision expected for it.
type check struct {
	name   string
	req    *Request
	status int
	// policy, when set, is the rule the decision must name ("-" for none).
	policy string
}

func runChecks(t *testing.T, e *Engine, checks []check) {
	t.Helper()
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := e.Check(context.Background(), c.req)
			ex := e.Explain(context.Background(), c.req)
			checkSameDecision(t, e, c.name, c.req, &ex)
			if d.Status != c.status {
				t.Fatalf("status %d (%s, policy %q), want %d", d.Status, d.Reason, d.Policy, c.status)
			}
			if d.Allowed != (c.status == http.StatusOK) {
				t.Fatalf("Allowed %v with status %d", d.Allowed, d.Status)
			}
			switch {
			case c.policy == "-" && d.Policy != "":
				t.Fatalf("policy %q, want none", d.Policy)
			case c.policy != "" && c.policy != "-" && d.Policy != c.policy:
				t.Fatalf("policy %q, want %q", d.Policy, c.policy)
			}
		})
	}
}

// issuer is the one ES256 signer every authz test shares (one key keeps the suite fast); jwks is
// its JWKS, which tests quote into their own RequestAuthentication documents.
type issuer struct {
	*jwttest.Signer
	jwks string
}

var (
	issuerOnce sync.Once
	testIssuer *issuer
)

func jwtIssuer(t testing.TB) *issuer {
	t.Helper()
	issuerOnce.Do(func() {
		s := jwttest.New(t, jwa.ES256, "k1")
		testIssuer = &issuer{Signer: s, jwks: s.JWKS}
	})
	return testIssuer
}

// token signs claims; exp defaults to an hour from now.
func (i *issuer) token(t testing.TB, claims map[string]any) string {
	t.Helper()
	return i.Sign(t, claims)
}

// requestAuthn is a RequestAuthentication in ns for issuers, with the test key inline.
func (i *issuer) requestAuthn(ns string, issuers ...string) string {
	var b strings.Builder
	b.WriteString("apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: jwt, namespace: " + ns + "}\nspec:\n  jwtRules:\n")
	jwks, _ := json.Marshal(i.jwks)
	for _, iss := range issuers {
		b.WriteString("  - issuer: \"" + iss + "\"\n    jwks: " + string(jwks) + "\n")
	}
	return b.String()
}
