package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/authz/jwt"
	"github.com/gatehouse-dev/gatehouse/authz/jwt/jwttest"
	"github.com/gatehouse-dev/gatehouse/authz/oidc/session"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/sds"
	"github.com/gatehouse-dev/gatehouse/test/peers/redispeer"
)

// BenchmarkSignedIn is the in-process cost of one signed-in browser request at the gateway
// (issue 7), through the listener's real ServeHTTP: session cookie → store lookup → identity
// headers → Check with the session's id token (one RequestAuthentication and an ALLOW on a
// groups claim) → upstream. test/bench/oidc.sh prints what the login adds over "none".
//
//   - none: no OIDCLogin; the same route and policies, the id token sent as a bearer, as an
//     API client does. What remains is routing, the cached JWT, the policy and the proxy hop.
//   - memory: an OIDCLogin with the in-memory store.
//   - redis: an OIDCLogin with the Redis store against a real redis-server (test/peers/redispeer):
//     a Get is one HMGET, an AES-GCM open and a JSON decode (the expiry slides once a minute).
//
// Sessions are put into the store directly, as a completed callback would, with an id token
// signed by jwttest: the sign-in itself (a browser round trip to the provider) happens once per
// session and is not what every request pays. The token is verified on the first request and
// cached after, as in production. Building each request (a clone of one template) and the
// loopback hop to the upstream are in every row alike.
func BenchmarkSignedIn(b *testing.B) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-Userid", r.Header.Get("Kubeflow-Userid"))
		w.Header().Set("X-Seen-Groups", r.Header.Get("Kubeflow-Groups"))
		w.Header().Set("X-Seen-Cookie", r.Header.Get("Cookie"))
		_, _ = io.WriteString(w, "ok")
	}))
	b.Cleanup(upstream.Close)
	_, upstreamPort, _ := net.SplitHostPort(upstream.Listener.Addr().String())
	benchSignedIn(b, true, staticEntry("app", "app.internal", upstreamPort), routeAllToApp)
}

// BenchmarkSignedInLocal is BenchmarkSignedIn with a directResponse route instead of the
// upstream: the loopback hop (tens of µs, and most of the run-to-run noise on shared cores) is
// gone, so what the login adds stands out against what the gateway itself does.
func BenchmarkSignedInLocal(b *testing.B) {
	benchSignedIn(b, false, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: app, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  http: [{directResponse: {status: 200, body: {string: ok}}}]
`)
}

// benchSignedIn runs the none, memory and redis variants over the route docs; upstream says
// whether the route reaches the echoing upstream, whose view of the identity headers is then
// checked before timing.
func benchSignedIn(b *testing.B, upstream bool, route ...string) {
	signer := jwttest.New(b, jwa.RS256, "bench")
	idToken, claims := benchIDToken(b, signer)
	docs := append([]string{edgeGateway, benchRequestAuthn(signer), benchAllowAdmins}, route...)
	userID := ""
	if upstream {
		userID = "alice@example.com"
	}

	b.Run("none", func(b *testing.B) {
		h := benchGatewayHandler(b, docs, nil)
		signedIn := benchRequest("Authorization", "Bearer "+idToken)
		benchExpect(b, h, benchRequest(), http.StatusForbidden, "")
		benchExpect(b, h, signedIn, http.StatusOK, "")
		benchServe(b, h, signedIn)
	})
	for _, store := range []string{policy.OIDCStoreMemory, policy.OIDCStoreRedis} {
		b.Run(store, func(b *testing.B) {
			creds := sds.NewStore(sds.StoreOptions{})
			secrets := map[string]map[string][]byte{"istio-system/oidc-client": {"client-secret": []byte("s3cret")}}
			login := benchLogin
			if store == policy.OIDCStoreRedis {
				addr := redispeer.Start(b)
				secrets["istio-system/session-keys"] = map[string][]byte{"2025-01": bytes.Repeat([]byte{7}, 32)}
				login += `  session:
    store: redis
    redis: {address: "` + addr + `", keys: {name: session-keys}}
`
			}
			creds.ReplaceSource("bench", secrets)
			h := benchGatewayHandler(b, append(docs[:len(docs):len(docs)], login), creds)
			gate := h.g.selectedLogin()
			if gate == nil || gate.broken != nil {
				b.Fatalf("login not in force: %+v", gate)
			}
			id := session.NewID()
			sess := &session.Session{Issuer: benchIssuer, Subject: "alice", Claims: claims, IDToken: idToken,
				AccessToken: strings.Repeat("a", 43), RefreshToken: strings.Repeat("r", 43), TokenExpiry: time.Now().Add(time.Hour)}
			if err := gate.sessions.store.Put(context.Background(), id, sess); err != nil {
				b.Fatalf("putting the session: %v", err)
			}
			signedIn := benchRequest("Cookie", "__Host-gatehouse-session="+id+"; theme=dark")
			benchExpect(b, h, benchRequest("Accept", "application/json"), http.StatusUnauthorized, "")
			benchExpect(b, h, signedIn, http.StatusOK, userID)
			benchServe(b, h, signedIn)
		})
	}
}

const benchIssuer = "https://issuer.test"

// benchLogin is a Kubeflow-style OIDCLogin: user id and groups headers from the id token.
const benchLogin = `apiVersion: gatehouse.dev/v1alpha1
kind: OIDCLogin
metadata: {name: login, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  issuer: ` + benchIssuer + `
  clientID: gatehouse
  clientSecret: {name: oidc-client, key: client-secret}
  scopes: [openid, email, groups, offline_access]
  headers:
    userID: {name: kubeflow-userid, claim: email}
    groups: {name: kubeflow-groups, claim: groups}
`

const benchAllowAdmins = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: admins, namespace: istio-system}
spec:
  action: ALLOW
  rules: [{when: [{key: "request.auth.claims[groups]", values: [admins]}]}]
`

func benchRequestAuthn(s *jwttest.Signer) string {
	return `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: istio-system}
spec:
  jwtRules:
  - issuer: ` + benchIssuer + `
    audiences: [gatehouse]
    jwks: '` + s.JWKS + `'
`
}

// benchIDToken is an id token shaped like Dex's, and its claims as the login keeps them
// (decoded from JSON, so numbers are float64).
func benchIDToken(b *testing.B, s *jwttest.Signer) (string, map[string]any) {
	now := time.Now()
	c := map[string]any{"iss": benchIssuer, "sub": "CgVhbGljZRIFbG9jYWw", "aud": "gatehouse", "iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "nonce": session.NewID(), "at_hash": "x8oKdBfDYjWfBHEnQAfGRw",
		"email": "alice@example.com", "email_verified": true, "groups": []string{"admins", "dev"}, "name": "Alice"}
	raw, err := json.Marshal(c)
	if err != nil {
		b.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		b.Fatal(err)
	}
	return s.Sign(b, c), claims
}

// benchGatewayHandler applies docs to a gateway with an in-process authz.Engine compiled from
// the same snapshot, and returns the handler of its port 80 listener. The gateway's helpers in
// the other test files take *testing.T, hence this one.
func benchGatewayHandler(b *testing.B, docs []string, creds *sds.Store) *listenerHandler {
	b.Helper()
	parsed, ps := policy.ParseSnapshot(map[string][]byte{"bench.yaml": []byte(strings.Join(docs, "---\n"))})
	if parsed == nil {
		b.Fatalf("config does not load:\n%v", ps)
	}
	snap := policy.NewSnapshot(1, parsed.Resources(), parsed.Mesh, parsed.Settings, nil, nil)
	keys := jwt.NewKeys(jwt.KeysOptions{})
	b.Cleanup(keys.Close)
	c, err := authz.Compile(snap, keys)
	if err != nil {
		b.Fatalf("authz.Compile: %v", err)
	}
	e := authz.NewEngine(authz.Options{})
	e.Apply(c)
	g := New(Options{
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registerer:  prometheus.NewRegistry(),
		BindAddress: "127.0.0.1",
		Compile:     CompileOptions{PortMap: map[uint32]uint32{80: 0}},
		Authz:       e,
		Credentials: creds,
	})
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = g.Shutdown(ctx)
	})
	if err := g.Apply(snap); err != nil {
		b.Fatalf("Apply: %v", err)
	}
	return &listenerHandler{g: g, key: ListenerKey{Port: 80}}
}

// benchRequest is a browser's GET with the given headers (name, value, …); each use is a clone,
// since the gateway edits the headers of the request it serves.
func benchRequest(headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://app.example.com/data", nil)
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	return r
}

// benchExpect fails b unless the request gets code, and, when userID is set, reaches the
// upstream with that identity header and without the session cookie: a benchmark of a request
// that was refused, or that skipped the login, would time the wrong thing.
func benchExpect(b *testing.B, h http.Handler, tmpl *http.Request, code int, userID string) {
	b.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, tmpl.Clone(context.Background()))
	if rec.Code != code {
		b.Fatalf("%s %s: %d %q, want %d", tmpl.Method, tmpl.URL, rec.Code, rec.Body.String(), code)
	}
	if userID == "" {
		return
	}
	if got := rec.Header().Get("X-Seen-Userid"); got != userID {
		b.Fatalf("upstream saw user id %q, want %q", got, userID)
	}
	if got := rec.Header().Get("X-Seen-Groups"); got != "admins,dev" {
		b.Fatalf("upstream saw groups %q, want admins,dev", got)
	}
	if got := rec.Header().Get("X-Seen-Cookie"); got != "theme=dark" {
		b.Fatalf("upstream saw cookies %q, want theme=dark only", got)
	}
}

// benchServe times tmpl through h, each request a fresh clone and recorder.
func benchServe(b *testing.B, h http.Handler, tmpl *http.Request) {
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, tmpl.Clone(context.Background()))
		if rec.Code != http.StatusOK {
			b.Fatalf("%d %q", rec.Code, rec.Body.String())
		}
	}
}
