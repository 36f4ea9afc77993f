package validation

import (
	"testing"

	security "istio.io/api/security/v1beta1"
)

func TestAuthorizationPolicyOperation(t *testing.T) {
	t.Parallel()
	to := func(op string) *security.AuthorizationPolicy {
		return authzJSON(`{"action":"ALLOW","rules":[{"to":[{"operation":` + op + `}]}]}`)
	}
	const op = "spec.rules[0].to[0].operation"
	runCases(t, []validationCase{
		{name: "ports, methods, hosts", spec: to(`{"ports":["0","443","65535"],"notMethods":["PROPFIND","M-SEARCH"],"notHosts":["admin.*"]}`)},
		{name: "plain and templated paths", spec: to(`{"paths":["/api/*","*.png","/foo/{*}/bar/{**}","/foo/{**}/","/{*}"],"notPaths":["/a%20b/{*}"]}`)},
		{
			name: "to without an operation",
			spec: authzJSON(`{"action":"ALLOW","rules":[{"to":[{}]}]}`),
			want: []wantFinding{wantErr(op, "`to.operation` must be set")},
		},
		{
			name: "null to entry",
			spec: &security.AuthorizationPolicy{Rules: []*security.Rule{{To: []*security.Rule_To{nil}}}},
			want: []wantFinding{wantErr("spec.rules[0].to[0]", "must not be null")},
		},
		{
			name: "empty operation",
			spec: to(`{}`),
			want: []wantFinding{wantErr(op, "`to.operation` must not be empty")},
		},
		{
			name: "port is not a number",
			spec: to(`{"ports":["http"]}`),
			want: []wantFinding{wantErr(op+".ports[0]", "bad port (http)")},
		},
		{
			name: "port out of range",
			spec: to(`{"notPorts":["65536"]}`),
			want: []wantFinding{wantErr(op+".notPorts[0]", "bad port (65536)")},
		},
		{
			name: "empty path",
			spec: to(`{"paths":[""]}`),
			want: []wantFinding{wantErr(op+".paths[0]", "empty value not allowed")},
		},
		{
			name: "empty method",
			spec: to(`{"methods":[""]}`),
			want: []wantFinding{wantErr(op+".methods[0]", "empty value not allowed")},
		},
		{
			name: "lower case method never matches",
			spec: to(`{"methods":["get"]}`),
			want: []wantFinding{wantWarn(op+".methods[0]", "compared case-sensitively")},
		},
		{
			name: "method that is not a token",
			spec: to(`{"notMethods":["GET /"]}`),
			want: []wantFinding{wantWarn(op+".notMethods[0]", "not a valid HTTP method token")},
		},
		{
			name: "{**} not last in paths",
			spec: to(`{"paths":["/{**}/foo/{*}"]}`),
			want: []wantFinding{wantErr(op+".paths[0]", "{**} is not the last operator")},
		},
		{
			name: "two {**} in notPaths",
			spec: to(`{"notPaths":["/a/{**}/{**}"]}`),
			want: []wantFinding{wantErr(op+".notPaths[0]", "{**} is not the last operator")},
		},
		{
			name: "wildcard inside a plain path is literal",
			spec: to(`{"paths":["/api/*/v1"]}`),
			want: []wantFinding{wantWarn(op+".paths[0]", "matched literally")},
		},
		{
			name: "wildcard inside a host is literal",
			spec: to(`{"hosts":["api.*.example.com"]}`),
			want: []wantFinding{wantWarn(op+".hosts[0]", "matched literally")},
		},
	})
}
