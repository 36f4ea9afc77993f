package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
)

// TestAuthzSplit runs the edge as separate processes, as a user puts `gatehouse authz` beside
// gateways: `gatehouse gateway --authz ADDR` (credentials from `gatehouse sds`) asks the
// authorization service over ext_authz gRPC for every request, the same decisions as in-process
// (TestAuthz), and denies every request with 403 once it is gone, as Envoy's ext_authz filter
// does by default (failure_mode_allow false, status_on_error 403).
func TestAuthzSplit(t *testing.T) {
	t.Parallel()
	signer := newJWTSigner(t, "https://split.example.com", jwa.ES256)
	api := backend(t, "api")
	dir := t.TempDir()
	jwks, _ := json.Marshal(signer.jwks)
	writeFile(t, dir, "gateway.yaml", authzGateway(api))
	writeFile(t, dir, "authn.yaml", `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  jwtRules:
  - issuer: https://split.example.com
    jwks: `+string(jwks)+`
    outputClaimToHeaders: [{header: x-jwt-sub, claim: sub}]
`)
	writeFile(t, dir, "authz.yaml", authzPolicy())

	loopback := func(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }
	// startReady starts a subcommand on its own status/stats/admin ports and waits until it is ready.
	startReady := func(args ...string) *process {
		t.Helper()
		status := freePort(t)
		p := start(t, append(args, "--config", dir, "--status-port", fmt.Sprint(status),
			"--stats-port", fmt.Sprint(freePort(t)), "--admin-port", fmt.Sprint(freePort(t)))...)
		waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/healthz/ready", status), 200)
		return p
	}
	sdsAddr, authzAddr, gwPort := loopback(freePort(t)), loopback(freePort(t)), freePort(t)
	startReady("sds", "--listen", sdsAddr)
	authzProc := startReady("authz", "--authz-listen", authzAddr, "--authz-http-listen", loopback(freePort(t)))
	startReady("gateway", "--sds", sdsAddr, "--authz", authzAddr, "--bind", "127.0.0.1", "--port-map", fmt.Sprintf("80=%d", gwPort))

	url := func(path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", gwPort, path) }
	host := "Host: api.example.com"
	good := signer.token(t, "alice", time.Hour)
	// The first checks open the gRPC connection to the authz service.
	waitCode(t, host, url("/anything/public"), 200)

	t.Run("denied path", func(t *testing.T) {
		body, code := curl(t, "-H", host, "-H", "Authorization: Bearer "+good, url("/anything/admin"))
		if code != 403 || body != "RBAC: access denied" {
			t.Fatalf("%d %q, want 403 RBAC: access denied", code, body)
		}
	})
	t.Run("no token on a path that needs one", func(t *testing.T) {
		body, code := curl(t, "-H", host, url("/anything/orders"))
		if code != 403 || body != "RBAC: access denied" {
			t.Fatalf("%d %q, want 403 RBAC: access denied", code, body)
		}
	})
	t.Run("bad token", func(t *testing.T) {
		bad := good[:len(good)-6] + "AAAAAA"
		head, body, code := curlHeaders(t, "-H", host, "-H", "Authorization: Bearer "+bad, url("/anything/public"))
		if code != 401 || body != "Jwt verification fails" {
			t.Fatalf("%d %q, want 401 Jwt verification fails", code, body)
		}
		if !strings.Contains(strings.ToLower(head), "\r\nwww-authenticate: bearer realm=") {
			t.Errorf("no www-authenticate in:\n%s", head)
		}
	})
	t.Run("good token", func(t *testing.T) {
		body, code := curl(t, "-H", host, "-H", "Authorization: Bearer "+good, url("/anything/orders"))
		if code != 200 {
			t.Fatalf("status %d: %s", code, body)
		}
		e := decodeEcho(t, body)
		if e.Headers["X-Jwt-Sub"] != "alice" || e.Headers["Authorization"] != nil {
			t.Errorf("upstream headers %v: want X-Jwt-Sub alice and no Authorization", e.Headers)
		}
	})
	t.Run("authz service gone: fail closed", func(t *testing.T) {
		if err := authzProc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		_ = authzProc.cmd.Wait()
		for _, path := range []string{"/anything/public", "/anything/orders"} {
			if body, code := curl(t, "-H", host, "-H", "Authorization: Bearer "+good, url(path)); code != 403 {
				t.Errorf("%s: %d %q, want 403", path, code, body)
			}
		}
	})
}
