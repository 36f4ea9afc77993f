package policy

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// tokenSpec writes a BootstrapToken whose spec is a valid minimal one with the given top-level
// fields replaced ("" removes one) or added, in a fixed order so lines are predictable: the
// document starts at line 1 and spec's first field, serviceAccount, is on line 5; fields left
// out take no line.
func tokenSpec(overrides map[string]string) string {
	base := []struct{ key, value string }{
		{"serviceAccount", "web"},
		{"token", "{name: web-bootstrap-token, key: token}"},
		{"maxUses", ""},
		{"expires", ""},
		{"identity", ""}, // not a field: for the unknown-field case
	}
	var b strings.Builder
	b.WriteString("apiVersion: gatehouse.dev/v1alpha1\nkind: BootstrapToken\nmetadata: {name: web-bootstrap, namespace: apps}\nspec:\n")
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

// TestBootstrapTokenValidation: every check names the field and the line it was written on.
func TestBootstrapTokenValidation(t *testing.T) {
	t.Parallel()
	const at = "token.yaml:"
	const res = "BootstrapToken/apps/web-bootstrap: "
	for _, tt := range []struct {
		name      string
		overrides map[string]string
		want      string // a substring of the one error; "" for none
	}{
		{"minimal", nil, ""},
		{"full", map[string]string{"maxUses": "3", "expires": `"2027-01-01T00:00:00Z"`}, ""},
		{"unquoted expires", map[string]string{"expires": "2027-01-01T00:00:00Z"}, ""},
		{"expires with offset", map[string]string{"expires": "'2027-01-01T01:00:00+01:00'"}, ""},
		{"null maxUses", map[string]string{"maxUses": "null"}, ""},
		{"no service account", map[string]string{"serviceAccount": ""}, at + "4: " + res + "spec.serviceAccount: required"},
		{"service account not a label", map[string]string{"serviceAccount": "web.frontend"}, at + "5: " + res + `spec.serviceAccount: "web.frontend": must not contain dots`},
		{"service account upper case", map[string]string{"serviceAccount": "Web"}, `spec.serviceAccount: "Web": a lowercase RFC 1123 label`},
		{"service account with slash", map[string]string{"serviceAccount": "web/x"}, `spec.serviceAccount: "web/x"`},
		{"no token", map[string]string{"token": ""}, at + "4: " + res + "spec.token: required"},
		{"no token name", map[string]string{"token": "{key: token}"}, at + "6: " + res + "spec.token.name: required"},
		{"no token key", map[string]string{"token": "{name: web-bootstrap-token}"}, at + "6: " + res + "spec.token.key: required"},
		{"bad token name", map[string]string{"token": "{name: Web_Token, key: token}"}, `spec.token.name: "Web_Token"`},
		{"token unknown field", map[string]string{"token": "{name: n, key: k, namespace: x}"}, `spec.token.namespace: unknown field "namespace"`},
		{"zero uses", map[string]string{"maxUses": "0"}, at + "7: " + res + "spec.maxUses: 0: must be at least 1 (1 is one-time"},
		{"negative uses", map[string]string{"maxUses": "-2"}, "spec.maxUses: -2: must be at least 1"},
		{"uses not a number", map[string]string{"maxUses": "once"}, "once"},
		{"expires date only", map[string]string{"expires": "2027-01-01"}, at + "7: " + res + `spec.expires: "2027-01-01": want an RFC 3339 timestamp`},
		{"expires not a time", map[string]string{"expires": "tomorrow"}, `spec.expires: "tomorrow": want an RFC 3339 timestamp`},
		{"expires a number", map[string]string{"expires": "1700000000"}, `spec.expires: "1700000000"`},
		{"unknown field", map[string]string{"identity": "spiffe://cluster.local/ns/apps/sa/web"}, `spec.identity: unknown field "identity"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, problems := ParseSnapshot(map[string][]byte{"token.yaml": []byte(tokenSpec(tt.overrides))})
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

// TestBootstrapTokenDefaults: the snapshot holds the compiled form, one-time by default.
func TestBootstrapTokenDefaults(t *testing.T) {
	t.Parallel()
	expires := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name      string
		overrides map[string]string
		want      BootstrapToken
	}{
		{"minimal", nil, BootstrapToken{
			ServiceAccount: "web", Token: SecretKeyRef{Name: "web-bootstrap-token", Key: "token"}, MaxUses: 1,
		}},
		{"written", map[string]string{"maxUses": "5", "expires": "'2027-01-01T00:00:00Z'"}, BootstrapToken{
			ServiceAccount: "web", Token: SecretKeyRef{Name: "web-bootstrap-token", Key: "token"}, MaxUses: 5, Expires: &expires,
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			snap, problems := ParseSnapshot(map[string][]byte{"token.yaml": []byte(tokenSpec(tt.overrides))})
			if snap == nil {
				t.Fatalf("rejected: %v", problems.Err())
			}
			rs := snap.List(KindBootstrapToken)
			if len(rs) != 1 {
				t.Fatalf("want one BootstrapToken, got %d", len(rs))
			}
			got := rs[0].Spec.(*BootstrapToken)
			if got.Expires != nil && tt.want.Expires != nil && got.Expires.Equal(*tt.want.Expires) {
				got.Expires = tt.want.Expires // compare instants, not time.Location pointers
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

// TestBootstrapTokenAnalysis: the warnings `gatehouse validate` prints for BootstrapTokens.
func TestBootstrapTokenAnalysis(t *testing.T) {
	t.Parallel()
	token := func(name, ns, created, secret, key, extra string) string {
		return "apiVersion: gatehouse.dev/v1alpha1\nkind: BootstrapToken\nmetadata: {name: " + name + ", namespace: " + ns +
			", creationTimestamp: '" + created + "'}\nspec:\n  serviceAccount: " + name + "\n  token: {name: " + secret + ", key: " + key + "}\n" +
			extra + "---\n"
	}
	secret := func(name, ns, data string) string {
		return "apiVersion: v1\nkind: Secret\nmetadata: {name: " + name + ", namespace: " + ns + "}\nstringData: " + data + "\n---\n"
	}
	const first, second = "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"
	const value = "0123456789abcdef0123" // 20 bytes
	for _, tt := range []struct {
		name string
		docs string
		want []string // substrings of the warnings, in order; nil for none
	}{
		{"present", token("web", "apps", first, "boot", "token", "") + secret("boot", "apps", "{token: "+value+"}"), nil},
		{"future expiry", token("web", "apps", first, "boot", "token", "  expires: '2999-01-01T00:00:00Z'\n") + secret("boot", "apps", "{token: "+value+"}"), nil},
		{"secret missing", token("web", "apps", first, "boot", "token", "") + secret("boot", "shop", "{token: "+value+"}"), []string{
			"BootstrapToken/apps/web: spec.token.name: Secret apps/boot not found: it must be in the BootstrapToken's namespace (a Secret of that name exists in namespace shop)",
		}},
		{"key missing", token("web", "apps", first, "boot", "token", "") + secret("boot", "apps", "{other: "+value+"}"), []string{
			`BootstrapToken/apps/web: spec.token.key: Secret apps/boot has no key "token"`,
		}},
		{"too short", token("web", "apps", first, "boot", "token", "") + secret("boot", "apps", "{token: short}"), []string{
			`spec.token.key: Secret apps/boot key "token" holds 5 bytes: a token needs at least 16 to resist guessing`,
		}},
		{"shared key", token("web", "apps", first, "boot", "token", "") + token("db", "apps", second, "boot", "token", "") +
			secret("boot", "apps", "{token: "+value+"}"), []string{
			`BootstrapToken/apps/db: spec.token: Secret apps/boot key "token" also holds the token of the older BootstrapToken apps/web`,
		}},
		{"same secret other keys", token("web", "apps", first, "boot", "web", "") + token("db", "apps", second, "boot", "db", "") +
			secret("boot", "apps", "{web: "+value+", db: "+value+"x}"), nil},
		{"same value in two secrets", token("web", "apps", first, "boot", "token", "") + token("db", "apps", second, "boot2", "token", "") +
			secret("boot", "apps", "{token: "+value+"}") + secret("boot2", "apps", "{token: "+value+"}"), []string{
			`BootstrapToken/apps/db: spec.token: Secret apps/boot2 key "token" holds the same token as the older BootstrapToken apps/web's`,
		}},
		{"same value other namespaces", token("web", "apps", first, "boot", "token", "") + token("web", "shop", second, "boot", "token", "") +
			secret("boot", "apps", "{token: "+value+"}") + secret("boot", "shop", "{token: "+value+"}"), []string{
			`BootstrapToken/shop/web: spec.token: Secret shop/boot key "token" holds the same token as the older BootstrapToken apps/web's`,
		}},
		{"same name other namespaces", token("web", "apps", first, "boot", "token", "") + token("web", "shop", second, "boot", "token", "") +
			secret("boot", "apps", "{token: "+value+"}") + secret("boot", "shop", "{token: "+value+"x}"), nil},
		{"expired", token("web", "apps", first, "boot", "token", "  expires: '2020-01-01T00:00:00Z'\n") + secret("boot", "apps", "{token: "+value+"}"), []string{
			"BootstrapToken/apps/web: spec.expires: expired at 2020-01-01T00:00:00Z: the CA refuses the token",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := Parse(map[string][]byte{"token.yaml": []byte(tt.docs)}, LoadOptions{Workload: DefaultWorkload()})
			var got []string
			for _, p := range cfg.Problems {
				if p.Severity == Error {
					t.Fatalf("unexpected error: %s", p)
				}
				got = append(got, p.String())
			}
			if len(got) != len(tt.want) {
				t.Fatalf("want %d warnings, got %d:\n%s", len(tt.want), len(got), strings.Join(got, "\n"))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %d: want it to contain %q, got %q", i, w, got[i])
				}
			}
		})
	}
}
