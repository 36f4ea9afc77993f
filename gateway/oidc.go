package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/authz/oidc"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// loginGate is one OIDCLogin compiled for this gateway (issue 7): the browser sign-in that runs
// ahead of RequestAuthentication and AuthorizationPolicy, as oauth2-proxy does ahead of Istio's
// RBAC in Kubeflow. See loginSet for how it attaches.
type loginGate struct {
	// name is the OIDCLogin's namespace/name.
	name   string
	issuer string
	// login is nil when broken is set.
	login *oidc.Login
	// broken says why the login cannot run (its client secret is missing, …): every request it
	// covers gets 503, never a pass without sign-in.
	broken error

	// paths are the login's own: its callback and its logout.
	paths [2]string
	// identity are the headers the login sets upstream, removed from every request here.
	identity []string

	// What the next snapshot compares against to keep this login, or at least its sessions.
	specKey  string
	secret   string
	sessions *sessionStore
}

// redisClient is the Redis connection g's sessions use; nil for none.
func (g *loginGate) redisClient() *redis.Client {
	if g == nil {
		return nil
	}
	return g.sessions.redisClient()
}

// buildLogin compiles one OIDCLogin, reusing what prev has that is still valid.
func (g *Gateway) buildLogin(r *policy.Resource, prev *loginGate) *loginGate {
	spec := r.Spec.(*policy.OIDCLogin)
	gate := &loginGate{name: r.NamespacedName(), issuer: spec.Issuer, specKey: fingerprint(spec),
		paths: [2]string{spec.CallbackPath, spec.Logout.Path}}
	for _, name := range []string{spec.Headers.UserID.Name, spec.Headers.Groups.Name} {
		if name != "" {
			gate.identity = append(gate.identity, name)
		}
	}
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
		gate.login = nil
		return gate
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
