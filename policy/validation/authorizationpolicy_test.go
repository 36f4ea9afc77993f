package validation

import (
	"strings"
	"testing"

	security "istio.io/api/security/v1beta1"
)

func TestAuthorizationPolicy(t *testing.T) {
	t.Parallel()
	manyRules := `{"action":"ALLOW","rules":[` + strings.Repeat(`{},`, maxAuthzRules) + `{}]}`
	manyFroms := `{"action":"ALLOW","rules":[{"from":[` + strings.Repeat(`{"source":{"namespaces":["a"]}},`, maxRuleFroms) + `{"source":{"namespaces":["a"]}}]}]}`
	runCases(t, []validationCase{
		{
			name: "valid ALLOW with source, operation and condition",
			spec: authzJSON(`{"action":"ALLOW","rules":[{
				"from":[{"source":{"principals":["cluster.local/ns/default/sa/web"],"requestPrincipals":["https://issuer.example.com/*"]}}],
				"to":[{"operation":{"methods":["GET","POST"],"paths":["/api/*","/v1/{*}/items/{**}"],"hosts":["*.example.com"],"ports":["8080"]}}],
				"when":[{"key":"request.auth.claims[groups]","values":["admins"]}]}]}`),
		},
		{name: "ALLOW without rules denies everything on purpose", spec: authzJSON(`{"action":"ALLOW"}`)},
		{name: "DENY with a match-all rule", spec: authzJSON(`{"action":"DENY","rules":[{}]}`)},
		{name: "valid CUSTOM", spec: authzJSON(`{"action":"CUSTOM","provider":{"name":"ext-authz"},"rules":[{"to":[{"operation":{"paths":["/admin/*"]}}]}]}`)},
		{
			name: "CUSTOM without provider.name",
			spec: authzJSON(`{"action":"CUSTOM","rules":[{}]}`),
			want: []wantFinding{wantErr("spec.provider.name", "`provider.name` must not be empty")},
		},
		{
			name: "CUSTOM with an empty provider name",
			spec: authzJSON(`{"action":"CUSTOM","provider":{},"rules":[{}]}`),
			want: []wantFinding{wantErr("spec.provider.name", "`provider.name` must not be empty")},
		},
		{
			name: "CUSTOM without rules",
			spec: authzJSON(`{"action":"CUSTOM","provider":{"name":"ext-authz"}}`),
			want: []wantFinding{wantErr("spec.rules", "CUSTOM action without `rules`")},
		},
		{
			name: "provider only with CUSTOM",
			spec: authzJSON(`{"action":"ALLOW","provider":{"name":"ext-authz"},"rules":[{}]}`),
			want: []wantFinding{wantErr("spec.provider", "only allowed with the CUSTOM action, found action ALLOW")},
		},
		{
			name: "DENY without rules",
			spec: authzJSON(`{"action":"DENY"}`),
			want: []wantFinding{wantErr("spec.rules", "DENY action without `rules`")},
		},
		{
			name: "AUDIT without rules audits nothing",
			spec: authzJSON(`{"action":"AUDIT"}`),
			want: []wantFinding{wantWarn("spec.rules", "AUDIT action without `rules`")},
		},
		{name: "AUDIT with rules", spec: authzJSON(`{"action":"AUDIT","rules":[{"to":[{"operation":{"paths":["/audit"]}}]}]}`)},
		{
			name: "DENY on HTTP attributes only denies TCP traffic",
			spec: authzJSON(`{"action":"DENY","rules":[{"to":[{"operation":{"methods":["DELETE"]}}]}]}`),
			want: []wantFinding{wantWarn("spec.rules[0]", "deny all traffic to TCP ports")},
		},
		{
			name: "DENY on request principals only denies TCP traffic",
			spec: authzJSON(`{"action":"DENY","rules":[{"from":[{"source":{"notRequestPrincipals":["*"]}}]}]}`),
			want: []wantFinding{wantWarn("spec.rules[0]", "deny all traffic to TCP ports")},
		},
		{name: "DENY on ports is fine for TCP", spec: authzJSON(`{"action":"DENY","rules":[{"to":[{"operation":{"ports":["8080"],"methods":["DELETE"]}}]}]}`)},
		{name: "DENY on IP blocks is fine for TCP", spec: authzJSON(`{"action":"DENY","rules":[{"from":[{"source":{"ipBlocks":["10.0.0.0/8"]}}]}]}`)},
		{
			name: "null rule",
			spec: &security.AuthorizationPolicy{Rules: []*security.Rule{nil}},
			want: []wantFinding{wantErr("spec.rules[0]", "rule must not be null")},
		},
		{
			name: "present but empty from",
			spec: &security.AuthorizationPolicy{Rules: []*security.Rule{{From: []*security.Rule_From{}}}},
			want: []wantFinding{wantErr("spec.rules[0].from", "`from` must not be empty")},
		},
		{
			name: "present but empty to",
			spec: &security.AuthorizationPolicy{Rules: []*security.Rule{{To: []*security.Rule_To{}}}},
			want: []wantFinding{wantErr("spec.rules[0].to", "`to` must not be empty")},
		},
		{
			name: "at most 512 rules",
			spec: authzJSON(manyRules),
			want: []wantFinding{wantErr("spec.rules", "too many rules")},
		},
		{
			name: "at most 512 from entries",
			spec: authzJSON(manyFroms),
			want: []wantFinding{wantErr("spec.rules[0].from", "too many `from` entries")},
		},
		{name: "dry-run on ALLOW", meta: dryRun("true"), spec: authzJSON(`{"action":"ALLOW","rules":[{}]}`)},
		{
			name: "dry-run value must be a boolean",
			meta: dryRun("yes please"),
			spec: authzJSON(`{"action":"DENY","rules":[{}]}`),
			want: []wantFinding{wantErr("metadata.annotations[istio.io/dry-run]", "invalid value")},
		},
		{
			name: "dry-run only for ALLOW and DENY",
			meta: dryRun("true"),
			spec: authzJSON(`{"action":"CUSTOM","provider":{"name":"ext-authz"},"rules":[{}]}`),
			want: []wantFinding{wantErr("metadata.annotations[istio.io/dry-run]", "only supports action ALLOW or DENY")},
		},
	})
}
