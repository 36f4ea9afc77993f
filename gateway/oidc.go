package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/authz/oidc"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// loginGate is the OIDCLogin in force at this gateway (issue 7): the browser sign-in that runs
// ahead of RequestAuthentication and AuthorizationPolicy, as oauth2-proxy does ahead of Istio's
// RBAC in Kubeflow. It is built per snapshot and installed with one atomic swap.
type loginGate struct {
	// name is the OIDCLogin's namespace/name.
	name   string
	issuer string
	// login is nil when broken is set.
	login *oidc.Login
	// broken says why the login cannot run (its client secret is missing, …): every request it
	// covers gets 503, never a pass without sign-in.
	broken error

	// What the next snapshot compares against to keep this login, or at least its sessions.
	specKey  string
	secret   string
	sessions *sessionStore
}

// retiredStoreGrace is how long a replaced Redis connection stays open for the requests still
// running on the gate that used it.
const retiredStoreGrace = time.Minute

// retire closes prev's Redis connection once next no longer uses it, after the requests in
// flight on prev have had time to finish.
func retire(prev, next *loginGate) {
	old := prev.redisClient()
	if old == nil || old == next.redisClient() {
		return
	}
	time.AfterFunc(retiredStoreGrace, func() { _ = old.Close() })
}

// redisClient is the Redis connection g's sessions use; nil for none.
func (g *loginGate) redisClient() *redis.Client {
	if g == nil {
		return nil
	}
	return g.sessions.redisClient()
}

// selectLogin returns the OIDCLogin whose selector takes this gateway workload: labels match, and
// it is in the workload's namespace or the root namespace, as Istio scopes a workload selector.
// The oldest wins, as policy's analysis warns about the others.
func selectLogin(snap *policy.Snapshot, o CompileOptions) *policy.Resource {
	root := snap.RootNamespace()
	for _, r := range snap.List(policy.KindOIDCLogin) { // oldest first
		spec, ok := r.Spec.(*policy.OIDCLogin)
		if !ok || spec.Selector == nil {
			continue
		}
		if r.Namespace != o.Namespace && r.Namespace != root {
			continue
		}
		if policy.SelectorMatches(spec.Selector.MatchLabels, o.Labels) {
			return r
		}
	}
	return nil
}

// applyLogin builds the login of snap for this gateway and installs it. An unchanged login (spec
// and client secret) is kept as is; a changed one keeps its session store when the issuer,
// client and session settings are the same, so a reload signs nobody out.
func (g *Gateway) applyLogin(snap *policy.Snapshot) {
	prev := g.login.Load()
	r := selectLogin(snap, g.opts.Compile)
	if r == nil {
		if prev != nil {
			g.log.Info("oidc login removed", "login", prev.name)
			g.login.Store(nil)
			retire(prev, nil)
		}
		return
	}
	gate := g.buildLogin(r, prev)
	if gate == prev {
		return
	}
	if gate.broken != nil {
		g.log.Error("oidc login unusable: the requests it covers get 503", "login", gate.name, "version", snap.Version, "error", gate.broken)
	} else {
		g.log.Info("oidc login in force", "login", gate.name, "version", snap.Version, "issuer", gate.issuer)
	}
	g.login.Store(gate)
	retire(prev, gate)
}

// buildLogin compiles one OIDCLogin, reusing what prev has that is still valid.
func (g *Gateway) buildLogin(r *policy.Resource, prev *loginGate) *loginGate {
	spec := r.Spec.(*policy.OIDCLogin)
	gate := &loginGate{name: r.NamespacedName(), issuer: spec.Issuer, specKey: fingerprint(spec)}
	ref := spec.ClientSecret
	secret, err := g.clientSecret(r.Namespace, ref)
	if err != nil {
		gate.broken = fmt.Errorf("oidclogin %s: spec.clientSecret: %w", gate.name, err)
		return gate
	}
	gate.secret = secret
	storeKey := g.storeFingerprint(r, spec)
	if prev != nil && prev.broken == nil && prev.name == gate.name && prev.specKey == gate.specKey && prev.secret == secret && prev.sessions.key == storeKey {
		return prev
	}
	var prevStore *sessionStore
	if prev != nil {
		prevStore = prev.sessions
	}
	if prevStore != nil && prevStore.key == storeKey {
		gate.sessions = prevStore
	} else if gate.sessions, err = g.newSessionStore(r.Namespace, spec, storeKey, prevStore); err != nil {
		gate.broken = fmt.Errorf("oidclogin %s: spec.session: %w", gate.name, err)
		return gate
	}
	gate.login, err = oidc.New(oidc.Options{Name: gate.name, Spec: spec, ClientSecret: secret, Store: gate.sessions.store, Logger: g.log})
	if err != nil {
		gate.broken = fmt.Errorf("oidclogin %s: %w", gate.name, err)
	}
	return gate
}

// clientSecret reads the client secret from the credential store: Secrets never enter the
// snapshot.
func (g *Gateway) clientSecret(namespace string, ref policy.SecretKeyRef) (string, error) {
	if g.opts.Credentials == nil {
		return "", errors.New("the gateway has no credential store")
	}
	v, ok := g.opts.Credentials.SecretValue(namespace, ref.Name, ref.Key)
	if !ok {
		return "", fmt.Errorf("secret %s/%s has no key %q", namespace, ref.Name, ref.Key)
	}
	// Secrets written with `kubectl create secret --from-file` often end with a newline that is
	// not part of the secret.
	return strings.TrimRight(string(v), "\r\n"), nil
}

// fingerprint is a comparable form of a compiled spec (decoding fills every default).
func fingerprint(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// storeFingerprint is what sessions depend on: who issued them, for which client, kept how,
// and for Redis the encryption keys (hashed). Sessions survive any other change (headers,
// paths, scopes).
func (g *Gateway) storeFingerprint(r *policy.Resource, spec *policy.OIDCLogin) string {
	keys := ""
	if rd := spec.Session.Redis; spec.Session.Store == policy.OIDCStoreRedis && rd != nil && g.opts.Credentials != nil {
		if data, ok := g.opts.Credentials.SecretData(r.Namespace, rd.Keys.Name); ok {
			keys = keysFingerprint(data)
		}
	}
	return fingerprint([]any{r.NamespacedName(), spec.Issuer, spec.ClientID, spec.Session, keys})
}

// hasBearer reports whether the client sent an `Authorization: Bearer` header (RFC 6750 §2.1;
// the scheme is case-insensitive).
func hasBearer(h http.Header) bool {
	for _, v := range h["Authorization"] {
		if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
			return true
		}
	}
	return false
}

// authCheck tells authorize how the login went before it.
type authCheck struct {
	// header is what the check sees instead of the request's headers: the session's id token
	// as a bearer token. Nil is the request's headers.
	header http.Header
	// bearerSkip means the login was skipped because the client sent a bearer token. Only a
	// token that a RequestAuthentication verified may skip it: when none did, authorize writes
	// nothing, sets unverified, and the caller runs the login.
	bearerSkip bool
	unverified bool
}

// authenticate runs the OIDC login in force, then authorization. It answers a request that may
// not go on itself and reports false.
//
// A request with `Authorization: Bearer` skips the login and is decided by RequestAuthentication,
// as an API client's is (issue 7): an invalid token gets jwt_authn's 401. A token that no
// RequestAuthentication verified (none covers its issuer) does not skip it: the login then runs
// as for a request without one, so a made-up header never bypasses sign-in.
func (g *Gateway) authenticate(sw *statusWriter, r *http.Request, x *exchange) bool {
	gate := g.login.Load()
	if gate == nil {
		return g.opts.Authz == nil || g.authorize(sw, r, x, nil)
	}
	if gate.broken != nil {
		localReply(sw, http.StatusServiceUnavailable, "sign-in unavailable")
		return false
	}
	if g.opts.Authz != nil && hasBearer(r.Header) {
		ac := authCheck{bearerSkip: true}
		if g.authorize(sw, r, x, &ac) {
			return true
		}
		if !ac.unverified {
			return false
		}
	}
	out := gate.login.Handle(sw, r)
	if out.Answered {
		sw.local = true
		return false
	}
	out.Apply(r.Header)
	if g.opts.Authz == nil {
		return true
	}
	var ac *authCheck
	if out.Session != nil && out.Session.IDToken != "" {
		h := make(http.Header, len(r.Header)+1)
		maps.Copy(h, r.Header)
		h["Authorization"] = []string{"Bearer " + out.Session.IDToken}
		ac = &authCheck{header: h}
	}
	return g.authorize(sw, r, x, ac)
}
