package validation

import (
	"strings"
	"testing"

	security "istio.io/api/security/v1beta1"
)

func TestAuthorizationPolicySource(t *testing.T) {
	t.Parallel()
	// from wraps one source in an ALLOW policy; custom does the same for a CUSTOM one.
	from := func(src string) *security.AuthorizationPolicy {
		return authzJSON(`{"action":"ALLOW","rules":[{"from":[{"source":` + src + `}]}]}`)
	}
	custom := func(src string) *security.AuthorizationPolicy {
		return authzJSON(`{"action":"CUSTOM","provider":{"name":"ext"},"rules":[{"from":[{"source":` + src + `}]}]}`)
	}
	const src = "spec.rules[0].from[0].source"
	manySAs := `["` + strings.TrimSuffix(strings.Repeat(`sa","`, maxServiceAccounts+1), `","`) + `"]`
	runCases(t, []validationCase{
		{name: "principals with prefix and suffix wildcards", spec: from(`{"principals":["*","cluster.local/ns/a/*","*/sa/web"],"notNamespaces":["kube-*"]}`)},
		{name: "IP blocks, v4 and v6", spec: from(`{"ipBlocks":["10.0.0.1","10.0.0.0/8"],"notRemoteIpBlocks":["2001:db8::/32","::1"]}`)},
		{name: "service accounts", spec: from(`{"serviceAccounts":["web","ns/api"],"notServiceAccounts":["ns/old"]}`)},
		{name: "trust domains alone", spec: from(`{"trustDomains":["cluster.local"]}`)},
		{name: "CUSTOM with IP blocks", spec: custom(`{"ipBlocks":["10.0.0.0/8"]}`)},
		{
			name: "from without a source",
			spec: authzJSON(`{"action":"ALLOW","rules":[{"from":[{}]}]}`),
			want: []wantFinding{wantErr(src, "`from.source` must be set")},
		},
		{
			name: "null from entry",
			spec: &security.AuthorizationPolicy{Rules: []*security.Rule{{From: []*security.Rule_From{nil}}}},
			want: []wantFinding{wantErr("spec.rules[0].from[0]", "must not be null")},
		},
		{
			name: "empty source",
			spec: from(`{}`),
			want: []wantFinding{wantErr(src, "`from.source` must not be empty")},
		},
		{
			name: "serviceAccounts mixed with principals",
			spec: from(`{"serviceAccounts":["web"],"principals":["cluster.local/ns/a/sa/b"]}`),
			want: []wantFinding{wantErr(src, "serviceAccounts cannot be set together with namespaces or principals")},
		},
		{
			name: "notServiceAccounts mixed with namespaces",
			spec: from(`{"notServiceAccounts":["web"],"namespaces":["a"]}`),
			want: []wantFinding{wantErr(src, "serviceAccounts cannot be set together with namespaces or principals")},
		},
		{
			name: "service account wildcard",
			spec: from(`{"serviceAccounts":["ns/*"]}`),
			want: []wantFinding{wantErr(src+".serviceAccounts[0]", "wildcard not allowed")},
		},
		{
			name: "service account with two slashes",
			spec: from(`{"serviceAccounts":["a/b/c"]}`),
			want: []wantFinding{wantErr(src+".serviceAccounts[0]", "expected format 'serviceAccount' or 'namespace/serviceAccount'")},
		},
		{
			name: "service account with an empty namespace",
			spec: from(`{"notServiceAccounts":["/web"]}`),
			want: []wantFinding{wantErr(src+".notServiceAccounts[0]", "empty namespace")},
		},
		{
			name: "service account with an empty name",
			spec: from(`{"serviceAccounts":["ns/"]}`),
			want: []wantFinding{wantErr(src+".serviceAccounts[0]", "empty serviceAccount")},
		},
		{
			name: "service account length",
			spec: from(`{"serviceAccounts":["` + strings.Repeat("a", maxServiceAccountLength+1) + `"]}`),
			want: []wantFinding{wantErr(src+".serviceAccounts[0]", "cannot exceed 320 characters")},
		},
		{
			name: "at most 16 service accounts",
			spec: from(`{"serviceAccounts":` + manySAs + `}`),
			want: []wantFinding{wantErr(src+".serviceAccounts", "may not have more than 16 values")},
		},
		{
			name: "bad CIDR in ipBlocks",
			spec: from(`{"ipBlocks":["10.0.0.0/33"]}`),
			want: []wantFinding{wantErr(src+".ipBlocks[0]", "bad CIDR range (10.0.0.0/33)")},
		},
		{
			name: "bad IP in remoteIpBlocks",
			spec: from(`{"remoteIpBlocks":["10.0.0.256"]}`),
			want: []wantFinding{wantErr(src+".remoteIpBlocks[0]", "bad IP address (10.0.0.256)")},
		},
		{
			name: "host name in notIpBlocks",
			spec: from(`{"notIpBlocks":["example.com"]}`),
			want: []wantFinding{wantErr(src+".notIpBlocks[0]", "bad IP address")},
		},
		{
			name: "empty principal",
			spec: from(`{"principals":["cluster.local/ns/a/sa/b",""]}`),
			want: []wantFinding{wantErr(src+".principals[1]", "empty value not allowed")},
		},
		{
			name: "empty IP block",
			spec: from(`{"ipBlocks":[""]}`),
			want: []wantFinding{wantErr(src+".ipBlocks[0]", "empty value not allowed")},
		},
		{
			name: "wildcard inside a principal is literal",
			spec: from(`{"principals":["cluster.local/ns/*/sa/web"]}`),
			want: []wantFinding{wantWarn(src+".principals[0]", "'*' is a wildcard only as the whole value, a prefix or a suffix")},
		},
		{
			name: "wildcard at both ends of a namespace",
			spec: from(`{"namespaces":["*prod*"]}`),
			want: []wantFinding{wantWarn(src+".namespaces[0]", "matched literally")},
		},
		{
			name: "CUSTOM with principals",
			spec: custom(`{"principals":["cluster.local/ns/a/sa/b"]}`),
			want: []wantFinding{wantErr(src+".principals", "principals is not supported with CUSTOM action")},
		},
		{
			name: "CUSTOM with request principals",
			spec: custom(`{"notRequestPrincipals":["*"]}`),
			want: []wantFinding{wantErr(src+".notRequestPrincipals", "not supported with CUSTOM action")},
		},
		{
			name: "CUSTOM with namespaces",
			spec: custom(`{"namespaces":["a"]}`),
			want: []wantFinding{wantErr(src+".namespaces", "not supported with CUSTOM action")},
		},
		{
			name: "CUSTOM with service accounts",
			spec: custom(`{"serviceAccounts":["web"]}`),
			want: []wantFinding{wantErr(src+".serviceAccounts", "not supported with CUSTOM action")},
		},
	})
}
