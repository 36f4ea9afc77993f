package policy

import (
	"strings"
	"testing"
)

// oidcSpec writes an OIDCLogin whose spec is a valid minimal one with the given top-level
// fields replaced ("" removes one) or added, in a fixed order so lines are predictable: the
// document starts at line 1 and spec's first field is on line 5.
func oidcSpec(overrides map[string]string) string {
	base := []struct{ key, value string }{
		{"selector", "{matchLabels: {istio: ingressgateway}}"},
		{"provider", ""},
		{"issuer", "https://dex.example.com/dex"},
		{"clientID", "gatehouse"},
		{"clientSecret", "{name: oidc-client, key: client-secret}"},
		{"scopes", ""}, {"callbackPath", ""}, {"logout", ""}, {"headers", ""}, {"skipPaths", ""}, {"session", ""},
	}
	var b strings.Builder
	b.WriteString("apiVersion: gatehouse.dev/v1alpha1\nkind: OIDCLogin\nmetadata: {name: login, namespace: istio-system}\nspec:\n")
	for _, f := range base {
		v, ok := overrides[f.key]
		if !ok {
			v = f.value
		}
		if v != "" {
			b.WriteString("  " + f.key + ": " + v + "\n")
		}
	}
	return b.String()
}

// TestOIDCLoginValidation: every check names the field and the line it was written on, or the
// nearest written field for a default.
func TestOIDCLoginValidation(t *testing.T) {
	t.Parallel()
	const at = "login.yaml:"
	for _, tt := range []struct {
		name      string
		overrides map[string]string
		want      string // a substring of the one error; "" for none
	}{
		{"minimal", nil, ""},
		{"provider only", map[string]string{"selector": "", "provider": "oidc-login"}, ""},
		{"both attachments", map[string]string{"provider": "oidc-login"}, ""},
		{"loopback http issuer", map[string]string{"issuer": "http://127.0.0.1:5556/dex"}, ""},
		{"localhost http issuer", map[string]string{"issuer": "http://localhost:5556"}, ""},
		{"ipv6 loopback issuer", map[string]string{"issuer": "http://[::1]:5556"}, ""},
		{"no attachment", map[string]string{"selector": ""}, at + "4: OIDCLogin/istio-system/login: spec: give selector"},
		{"empty selector", map[string]string{"selector": "{matchLabels: {}}"}, at + "5: OIDCLogin/istio-system/login: spec.selector.matchLabels: required"},
		{"bad label", map[string]string{"selector": "{matchLabels: {istio: 'a b'}}"}, `spec.selector.matchLabels.istio: label value "a b"`},
		{"no issuer", map[string]string{"issuer": ""}, at + "4: OIDCLogin/istio-system/login: spec.issuer: required"},
		{"issuer not a URL", map[string]string{"issuer": "dex.example.com"}, at + "6: OIDCLogin/istio-system/login: spec.issuer: \"dex.example.com\": want an https URL"},
		{"issuer with query", map[string]string{"issuer": "https://dex.example.com/dex?x=1"}, "no query or fragment"},
		{"issuer with fragment", map[string]string{"issuer": "'https://dex.example.com/dex#x'"}, "no query or fragment"},
		{"issuer with credentials", map[string]string{"issuer": "https://u:p@dex.example.com"}, "must not hold credentials"},
		{"ftp issuer", map[string]string{"issuer": "ftp://dex.example.com"}, `scheme "ftp": want https`},
		{"remote http issuer", map[string]string{"issuer": "http://10.0.0.1/dex"}, "http is accepted only for loopback hosts"},
		{"no client id", map[string]string{"clientID": ""}, "spec.clientID: required"},
		{"no secret", map[string]string{"clientSecret": ""}, at + "4: OIDCLogin/istio-system/login: spec.clientSecret: required"},
		{"no secret key", map[string]string{"clientSecret": "{name: oidc-client}"}, at + "8: OIDCLogin/istio-system/login: spec.clientSecret.key: required"},
		{"bad secret name", map[string]string{"clientSecret": "{name: Oidc_Client, key: k}"}, `spec.clientSecret.name: "Oidc_Client"`},
		{"bad secret key", map[string]string{"clientSecret": "{name: oidc-client, key: 'a b'}"}, `spec.clientSecret.key: "a b"`},
		{"no openid", map[string]string{"scopes": "[email]"}, "spec.scopes: must include openid"},
		{"duplicate scope", map[string]string{"scopes": "[openid, email, email]"}, `spec.scopes[2]: "email": also spec.scopes[1]`},
		{"bad scope", map[string]string{"scopes": "\n  - openid\n  - 'a b'"}, at + "11: OIDCLogin/istio-system/login: spec.scopes[1]: \"a b\": not a scope token"},
		{"relative callback", map[string]string{"callbackPath": "oauth2/callback"}, "spec.callbackPath: \"oauth2/callback\": must start with /"},
		{"root callback", map[string]string{"callbackPath": "/"}, "would take over the whole site"},
		{"callback with query", map[string]string{"callbackPath": "/cb?x=1"}, "no query, fragment or wildcard"},
		{"callback not normalized", map[string]string{"callbackPath": "/a/../cb"}, "not a normalized path"},
		{"callback is logout", map[string]string{"callbackPath": "/oauth2/sign_out"}, "spec.logout.path: \"/oauth2/sign_out\": same as callbackPath"},
		{"logout to URL", map[string]string{"logout": "{path: /logout, redirectTo: 'https://example.com/bye'}"}, ""},
		{"logout to scheme-relative", map[string]string{"logout": "{redirectTo: //evil.example.com}"}, "spec.logout.redirectTo: \"//evil.example.com\""},
		{"logout to javascript", map[string]string{"logout": "{redirectTo: 'javascript:alert(1)'}"}, "want a path starting with /"},
		{"skip star", map[string]string{"skipPaths": "['*']"}, "skips the login everywhere"},
		{"skip suffix", map[string]string{"skipPaths": "['*.css', /static/*]"}, ""},
		{"skip middle star", map[string]string{"skipPaths": "['/a/*/b']"}, "want an exact path"},
		{"skip relative", map[string]string{"skipPaths": "[healthz]"}, "must start with /"},
		{"skip covers callback", map[string]string{"skipPaths": "[/oauth2/callback]"}, "covers callbackPath"},
		{"header", map[string]string{"headers": "{userID: {name: kubeflow-userid, prefix: 'accounts.google.com:'}, groups: {name: kubeflow-groups}, idToken: true}"}, ""},
		{"bad header", map[string]string{"headers": "{userID: {name: 'kubeflow userid'}}"}, "spec.headers.userID.name: \"kubeflow userid\": not a valid header name"},
		{"reserved header", map[string]string{"headers": "{userID: {name: Authorization}}"}, "reserved (use idToken for Authorization)"},
		{"same headers", map[string]string{"headers": "{userID: {name: x-user}, groups: {name: X-User}}"}, "same header as userID"},
		{"claim without header", map[string]string{"headers": "{userID: {claim: sub}}"}, "spec.headers.userID.name: required when"},
		{"groups claim without header", map[string]string{"headers": "{groups: {claim: roles}}"}, "spec.headers.groups.name: required when"},
		{"unknown header field", map[string]string{"headers": "{groups: {name: g, prefix: x}}"}, `spec.headers.groups.prefix: unknown field "prefix"`},
		{"redis", map[string]string{"session": "{store: redis, redis: {address: 'redis:6379', keys: {name: keys}}}"}, ""},
		{"bad store", map[string]string{"session": "{store: disk}"}, `spec.session.store: "disk": want memory or redis`},
		{"redis without redis", map[string]string{"session": "{store: redis}"}, "spec.session.redis: required"},
		{"redis block on memory", map[string]string{"session": "{redis: {address: 'r:6379', keys: {name: k}}}"}, "set, but store is memory"},
		{"redis no address", map[string]string{"session": "{store: redis, redis: {keys: {name: k}}}"}, "spec.session.redis.address: required"},
		{"redis no port", map[string]string{"session": "{store: redis, redis: {address: redis, keys: {name: k}}}"}, "want host:port"},
		{"redis bad port", map[string]string{"session": "{store: redis, redis: {address: 'redis:0', keys: {name: k}}}"}, "want 1-65535"},
		{"bad cookie name", map[string]string{"session": "{cookieName: 'a;b'}"}, "not a valid cookie name"},
		{"domain cookie", map[string]string{"session": "{cookieDomain: .example.com}"}, ""},
		{"host cookie with domain", map[string]string{"session": "{cookieName: __host-s, cookieDomain: example.com}"}, "must not have a Domain"},
		{"bad domain", map[string]string{"session": "{cookieDomain: 'exa mple.com'}"}, "spec.session.cookieDomain"},
		{"zero lifetime", map[string]string{"session": "{absoluteLifetime: 0s}"}, "spec.session.absoluteLifetime: must be positive"},
		{"negative lifetime", map[string]string{"session": "{idleLifetime: -1h}"}, "must not be negative"},
		{"idle over default absolute", map[string]string{"session": "{idleLifetime: 48h}"}, "longer than absoluteLifetime 24h0m0s"},
		{"idle under absolute", map[string]string{"session": "{idleLifetime: 30m, absoluteLifetime: 8h}"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, problems := ParseSnapshot(map[string][]byte{"login.yaml": []byte(oidcSpec(tt.overrides))})
			var errs []string
			for _, p := range problems {
				if p.Severity == Error {
					errs = append(errs, p.String())
				}
			}
			switch {
			case tt.want == "" && len(errs) > 0:
				t.Errorf("want no error, got %q", errs)
			case tt.want != "" && (len(errs) != 1 || !strings.Contains(errs[0], tt.want)):
				t.Errorf("want one error containing %q, got %q", tt.want, errs)
			}
		})
	}
}
