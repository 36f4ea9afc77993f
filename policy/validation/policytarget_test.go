package validation

import (
	"fmt"
	"strings"
	"testing"
)

func TestPolicyTarget(t *testing.T) {
	t.Parallel()
	// An ALLOW policy with one match-all rule is valid on its own, so each row shows only the
	// targeting rule it is about.
	allow := func(target string) string { return `{"action":"ALLOW","rules":[{}],` + target + `}` }
	manyRefs := make([]string, maxTargetRefs+1)
	for i := range manyRefs {
		manyRefs[i] = fmt.Sprintf(`{"kind":"Service","name":"s%d"}`, i)
	}
	runCases(t, []validationCase{
		{name: "selector", spec: authzJSON(allow(`"selector":{"matchLabels":{"app":"web"}}`))},
		{name: "targetRefs to a Gateway", spec: authzJSON(allow(`"targetRefs":[{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"gw"}]`))},
		{name: "targetRefs to a GatewayClass", spec: authzJSON(allow(`"targetRefs":[{"group":"gateway.networking.k8s.io","kind":"GatewayClass","name":"istio"}]`))},
		{name: "targetRefs to a core Service", spec: authzJSON(allow(`"targetRefs":[{"kind":"Service","name":"web"},{"group":"core","kind":"Service","name":"api"}]`))},
		{name: "targetRef to a ServiceEntry", spec: authzJSON(allow(`"targetRef":{"group":"networking.istio.io","kind":"ServiceEntry","name":"ext"}`))},
		{
			name: "selector and targetRefs are mutually exclusive",
			spec: authzJSON(allow(`"selector":{"matchLabels":{"app":"web"}},"targetRefs":[{"kind":"Service","name":"web"}]`)),
			want: []wantFinding{wantErr("spec", "only one of selector, targetRef or targetRefs")},
		},
		{
			name: "targetRef and targetRefs are mutually exclusive",
			spec: authzJSON(allow(`"targetRef":{"kind":"Service","name":"a"},"targetRefs":[{"kind":"Service","name":"b"}]`)),
			want: []wantFinding{wantErr("spec", "only one of")},
		},
		{
			name: "selector without labels selects the whole namespace",
			spec: authzJSON(allow(`"selector":{}`)),
			want: []wantFinding{wantWarn("spec.selector.matchLabels", "without labels")},
		},
		{
			name: "selector label value wildcard",
			spec: authzJSON(allow(`"selector":{"matchLabels":{"app":"web-*"}}`)),
			want: []wantFinding{wantErr("spec.selector.matchLabels[app]", "wildcard is not supported")},
		},
		{
			name: "targetRef name is required",
			spec: authzJSON(allow(`"targetRefs":[{"kind":"Service"}]`)),
			want: []wantFinding{wantErr("spec.targetRefs[0].name", "name must be set")},
		},
		{
			name: "targetRef name length",
			spec: authzJSON(allow(`"targetRefs":[{"kind":"Service","name":"` + strings.Repeat("a", 254) + `"}]`)),
			want: []wantFinding{wantErr("spec.targetRefs[0].name", "longer than 253")},
		},
		{
			name: "targetRef cross namespace",
			spec: authzJSON(allow(`"targetRef":{"kind":"Service","name":"web","namespace":"other"}`)),
			want: []wantFinding{wantErr("spec.targetRef.namespace", "cross namespace referencing is not supported")},
		},
		{
			name: "targetRef kind is required",
			spec: authzJSON(allow(`"targetRefs":[{"group":"gateway.networking.k8s.io","name":"gw"}]`)),
			want: []wantFinding{wantErr("spec.targetRefs[0].kind", "kind must be set")},
		},
		{
			name: "targetRef kind syntax",
			spec: authzJSON(allow(`"targetRefs":[{"kind":"9Service","name":"gw"}]`)),
			want: []wantFinding{wantErr("spec.targetRefs[0].kind", "not a valid kind")},
		},
		{
			name: "targetRef group syntax",
			spec: authzJSON(allow(`"targetRefs":[{"group":"Gateway_API","kind":"Gateway","name":"gw"}]`)),
			want: []wantFinding{
				wantErr("spec.targetRefs[0].group", "not a valid API group"),
				wantErr("spec.targetRefs[0]", "not supported"),
			},
		},
		{
			name: "targetRef to an unsupported kind",
			spec: authzJSON(allow(`"targetRefs":[{"group":"apps","kind":"Deployment","name":"web"}]`)),
			want: []wantFinding{wantErr("spec.targetRefs[0]", "targetRef to apps/Deployment is not supported")},
		},
		{
			name: "Gateway needs the Gateway API group",
			spec: authzJSON(allow(`"targetRef":{"kind":"Gateway","name":"gw"}`)),
			want: []wantFinding{wantErr("spec.targetRef", "targetRef to /Gateway is not supported")},
		},
		{
			name: "at most 16 targetRefs",
			spec: authzJSON(allow(`"targetRefs":[` + strings.Join(manyRefs, ",") + `]`)),
			want: []wantFinding{wantErr("spec.targetRefs", "too many targetRefs")},
		},
		{
			name: "RequestAuthentication shares the rules",
			spec: reqAuthnJSON(`{"selector":{"matchLabels":{"app":"web"}},"targetRef":{"kind":"Service","name":"web"}}`),
			want: []wantFinding{wantErr("spec", "only one of")},
		},
	})
}
