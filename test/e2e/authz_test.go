package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/gatehouse-dev/gatehouse/authz/jwt/jwttest"
)

// jwtSigner signs tokens for one issuer with one key; jwks is the public key as a JWKS.
type jwtSigner struct {
	*jwttest.Signer
	issuer string
	jwks   string
}

func newJWTSigner(t *testing.T, issuer string, alg jwa.SignatureAlgorithm) *jwtSigner {
	t.Helper()
	s := jwttest.New(t, alg, "e2e")
	return &jwtSigner{Signer: s, issuer: issuer, jwks: s.JWKS}
}

// token signs a token for sub that expires after ttl (negative: already expired).
func (s *jwtSigner) token(t *testing.T, sub string, ttl time.Duration) string {
	t.Helper()
	return s.Sign(t, map[string]any{"iss": s.issuer, "sub": sub, "exp": time.Now().Add(ttl).Unix()})
}

// authzGateway routes api.example.com to the api backend on port api.
func authzGateway(api int) string {
	return docs(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["api.example.com"]
`, staticEntry("api", "istio-system", "api.internal", 80, "HTTP", api), `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: istio-system}
spec:
  hosts: [api.example.com]
  gateways: [edge]
  http: [{route: [{destination: {host: api.internal}}]}]
`)
}

// authzPolicy denies /anything/admin and the extra paths, lets anyone reach /anything/public and
// lets any authenticated caller reach the rest.
func authzPolicy(extraDenied ...string) string {
	denied := append([]string{"/anything/admin", "/anything/admin/*"}, extraDenied...)
	return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: DENY
  rules: [{to: [{operation: {paths: [` + strings.Join(denied, ", ") + `]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: ALLOW
  rules:
  - to: [{operation: {paths: [/anything/public, /anything/public/*]}}]
  - from: [{source: {requestPrincipals: ["*"]}}]
`
}

// curlHeaders runs curl with -i and splits the response head from the body.
func curlHeaders(t *testing.T, args ...string) (head, body string, code int) {
	t.Helper()
	out, code := curl(t, append([]string{"-i"}, args...)...)
	head, body, _ = strings.Cut(out, "\r\n\r\n")
	return head, body, code
}

// TestAuthz sends curl requests through `gatehouse run` with a RequestAuthentication (one rule
// with inline keys, one with a jwksUri) and AuthorizationPolicies, then edits the policy file.
func TestAuthz(t *testing.T) {
	t.Parallel()
	inline := newJWTSigner(t, "https://inline.example.com", jwa.RS256)
	remote := newJWTSigner(t, "https://remote.example.com", jwa.ES256)
	jwksSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(remote.jwks))
	}))
	t.Cleanup(jwksSrv.Close)

	api := backend(t, "api")
	dir := t.TempDir()
	inlineJWKS, _ := json.Marshal(inline.jwks)
	writeFile(t, dir, "gateway.yaml", authzGateway(api))
	writeFile(t, dir, "authn.yaml", `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  jwtRules:
  - issuer: https://inline.example.com
    jwks: `+string(inlineJWKS)+`
    outputClaimToHeaders: [{header: x-jwt-sub, claim: sub}]
  - issuer: https://remote.example.com
    jwksUri: `+jwksSrv.URL+`/jwks.json
    outputClaimToHeaders: [{header: x-jwt-sub, claim: sub}]
`)
	writeFile(t, dir, "authz.yaml", authzPolicy())
	g := run(t, dir, 80)
	host := "Host: api.example.com"
	good := inline.token(t, "alice", time.Hour)

	t.Run("no token on a public path", func(t *testing.T) {
		if body, code := curl(t, "-H", host, g.url("/anything/public")); code != 200 {
			t.Fatalf("status %d: %s", code, body)
		}
	})
	t.Run("bad token", func(t *testing.T) {
		bad := good[:len(good)-6] + "AAAAAA"
		head, body, code := curlHeaders(t, "-H", host, "-H", "Authorization: Bearer "+bad, g.url("/anything/public"))
		if code != 401 || body != "Jwt verification fails" {
			t.Fatalf("%d %q, want 401 Jwt verification fails", code, body)
		}
		if !strings.Contains(strings.ToLower(head), "\r\nwww-authenticate: bearer realm=") {
			t.Errorf("no www-authenticate in:\n%s", head)
		}
	})
	t.Run("expired token", func(t *testing.T) {
		expired := inline.token(t, "alice", -time.Hour)
		if body, code := curl(t, "-H", host, "-H", "Authorization: Bearer "+expired, g.url("/anything/public")); code != 401 || body != "Jwt is expired" {
			t.Fatalf("%d %q, want 401 Jwt is expired", code, body)
		}
	})
	t.Run("no token on a path that needs one", func(t *testing.T) {
		if body, code := curl(t, "-H", host, g.url("/anything/orders")); code != 403 || body != "RBAC: access denied" {
			t.Fatalf("%d %q, want 403 RBAC: access denied", code, body)
		}
	})
	t.Run("good inline-key token", func(t *testing.T) {
		body, code := curl(t, "-H", host, "-H", "Authorization: Bearer "+good, g.url("/anything/orders"))
		if code != 200 {
			t.Fatalf("status %d: %s", code, body)
		}
		e := decodeEcho(t, body)
		if e.Headers["X-Jwt-Sub"] != "alice" || e.Headers["Authorization"] != nil {
			t.Errorf("upstream headers %v: want x-jwt-sub alice and no Authorization", e.Headers)
		}
	})
	t.Run("good jwksUri token", func(t *testing.T) {
		tok := remote.token(t, "bob", time.Hour)
		body, code := curl(t, "-H", host, "-H", "Authorization: Bearer "+tok, g.url("/anything/orders"))
		if code != 200 || decodeEcho(t, body).Headers["X-Jwt-Sub"] != "bob" {
			t.Fatalf("status %d: %s", code, body)
		}
	})
	t.Run("denied path", func(t *testing.T) {
		for _, path := range []string{"/anything/admin", "/anything/public/../admin", "/anything/%61dmin"} {
			body, code := curl(t, "--path-as-is", "-H", host, "-H", "Authorization: Bearer "+good, g.url(path))
			if code != 403 || body != "RBAC: access denied" {
				t.Errorf("%s: %d %q, want 403 RBAC: access denied", path, code, body)
			}
		}
	})
	t.Run("policy reload", func(t *testing.T) {
		writeFile(t, dir, "authz.yaml", authzPolicy("/anything/public"))
		waitCode(t, host, g.url("/anything/public"), 403)
		writeFile(t, dir, "authz.yaml", authzPolicy())
		waitCode(t, host, g.url("/anything/public"), 200)
	})
}

// waitCode polls url with curl until it answers want.
func waitCode(t *testing.T, host, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		body, code := curl(t, "-H", host, url)
		if code == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still answers %d (%q), want %d", url, code, body, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
