package validation

import (
	"testing"

	security "istio.io/api/security/v1beta1"
)

func TestAuthorizationPolicyConditions(t *testing.T) {
	t.Parallel()
	when := func(action, cond string) *security.AuthorizationPolicy {
		extra := ""
		if action == "CUSTOM" {
			extra = `"provider":{"name":"ext"},`
		}
		return authzJSON(`{"action":"` + action + `",` + extra + `"rules":[{"to":[{"operation":{"ports":["80"]}}],"when":[` + cond + `]}]}`)
	}
	const c = "spec.rules[0].when[0]"
	runCases(t, []validationCase{
		{
			name: "every known key",
			spec: when("ALLOW", `
				{"key":"request.headers[x-tenant]","values":["a"]},
				{"key":"request.experimental.inline.headers[x-tenant]","values":["a"]},
				{"key":"source.ip","values":["10.0.0.0/8"]},
				{"key":"remote.ip","notValues":["203.0.113.4"]},
				{"key":"source.namespace","values":["prod-*"]},
				{"key":"source.principal","values":["*"]},
				{"key":"source.serviceAccount","values":["ns/web"]},
				{"key":"source.trustDomain","values":["cluster.local"]},
				{"key":"request.auth.principal","values":["iss/sub"]},
				{"key":"request.auth.audiences","values":["api"]},
				{"key":"request.auth.presenter","values":["client"]},
				{"key":"request.auth.claims[iss]","values":["https://issuer"]},
				{"key":"destination.ip","values":["::1"]},
				{"key":"destination.port","values":["8443"]},
				{"key":"connection.sni","values":["*.example.com"]},
				{"key":"experimental.envoy.filters.network.mysql_proxy[db.table]","values":["[update]"]}`),
		},
		{name: "CUSTOM with headers and IPs", spec: when("CUSTOM", `{"key":"request.headers[x-a]","values":["1"]},{"key":"source.ip","values":["10.0.0.1"]}`)},
		{
			name: "key is required",
			spec: when("ALLOW", `{"values":["a"]}`),
			want: []wantFinding{wantErr(c+".key", "`key` is required")},
		},
		{
			name: "values or notValues required",
			spec: when("ALLOW", `{"key":"source.ip"}`),
			want: []wantFinding{wantErr(c, "needs at least one of `values` or `notValues`")},
		},
		{
			name: "unknown attribute",
			spec: when("ALLOW", `{"key":"source.user","values":["a"]}`),
			want: []wantFinding{wantErr(c+".key", "unknown attribute: source.user")},
		},
		{
			name: "header key without a name",
			spec: when("ALLOW", `{"key":"request.headers","values":["a"]}`),
			want: []wantFinding{wantErr(c+".key", "bad key (request.headers)")},
		},
		{
			name: "claim key with an empty name",
			spec: when("ALLOW", `{"key":"request.auth.claims[]","values":["a"]}`),
			want: []wantFinding{wantErr(c+".key", "bad key (request.auth.claims[])")},
		},
		{
			name: "destination.namespace is replaced",
			spec: when("ALLOW", `{"key":"destination.namespace","values":["a"]}`),
			want: []wantFinding{wantErr(c+".key", "metadata.namespace replaces it")},
		},
		{
			name: "destination.labels is replaced",
			spec: when("ALLOW", `{"key":"destination.labels[app]","values":["a"]}`),
			want: []wantFinding{wantErr(c+".key", "workload selector replaces it")},
		},
		{
			name: "destination.user is deprecated",
			spec: when("ALLOW", `{"key":"destination.user","values":["a"]}`),
			want: []wantFinding{wantErr(c+".key", "deprecated attribute destination.user")},
		},
		{
			name: "bad source.ip",
			spec: when("ALLOW", `{"key":"source.ip","values":["10.0.0.0/8","10.1"]}`),
			want: []wantFinding{wantErr(c+".values[1]", "bad IP address (10.1)")},
		},
		{
			name: "bad destination.ip CIDR in notValues",
			spec: when("DENY", `{"key":"destination.ip","notValues":["::/129"]}`),
			want: []wantFinding{wantErr(c+".notValues[0]", "bad CIDR range")},
		},
		{
			name: "bad destination.port",
			spec: when("ALLOW", `{"key":"destination.port","values":["-1"]}`),
			want: []wantFinding{wantErr(c+".values[0]", "bad port (-1)")},
		},
		{
			name: "source.serviceAccount wildcard",
			spec: when("ALLOW", `{"key":"source.serviceAccount","values":["ns/*"]}`),
			want: []wantFinding{wantErr(c+".values[0]", "wildcard not allowed")},
		},
		{
			name: "empty value",
			spec: when("ALLOW", `{"key":"request.auth.claims[groups]","values":[""]}`),
			want: []wantFinding{wantErr(c+".values[0]", "empty value not allowed")},
		},
		{
			name: "wildcard inside a claim value is literal",
			spec: when("ALLOW", `{"key":"request.auth.claims[groups]","values":["team-*-admins"]}`),
			want: []wantFinding{wantWarn(c+".values[0]", "matched literally")},
		},
		{
			name: "CUSTOM with request.auth",
			spec: when("CUSTOM", `{"key":"request.auth.claims[groups]","values":["admins"]}`),
			want: []wantFinding{wantErr(c+".key", "request.auth.claims[groups] is not supported with CUSTOM action")},
		},
		{
			name: "CUSTOM with source.principal",
			spec: when("CUSTOM", `{"key":"source.principal","values":["a"]}`),
			want: []wantFinding{wantErr(c+".key", "not supported with CUSTOM action")},
		},
		{
			name: "CUSTOM with source.namespace",
			spec: when("CUSTOM", `{"key":"source.namespace","values":["a"]}`),
			want: []wantFinding{wantErr(c+".key", "not supported with CUSTOM action")},
		},
		{
			name: "CUSTOM with source.serviceAccount",
			spec: when("CUSTOM", `{"key":"source.serviceAccount","values":["a"]}`),
			want: []wantFinding{wantErr(c+".key", "not supported with CUSTOM action")},
		},
		{
			name: "null condition",
			spec: &security.AuthorizationPolicy{Rules: []*security.Rule{{When: []*security.Condition{nil}}}},
			want: []wantFinding{wantErr("spec.rules[0].when[0]", "must not be null")},
		},
	})
}
