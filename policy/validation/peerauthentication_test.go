package validation

import (
	"testing"

	security "istio.io/api/security/v1beta1"
	typev1beta1 "istio.io/api/type/v1beta1"
)

func TestPeerAuthentication(t *testing.T) {
	t.Parallel()
	runCases(t, []validationCase{
		{name: "namespace-wide STRICT", spec: peerAuthnJSON(`{"mtls":{"mode":"STRICT"}}`)},
		{name: "workload with a port override", spec: peerAuthnJSON(`{"selector":{"matchLabels":{"app":"web"}},"mtls":{"mode":"STRICT"},"portLevelMtls":{"8080":{"mode":"DISABLE"}}}`)},
		{name: "UNSET workload mode with a port override", spec: peerAuthnJSON(`{"selector":{"matchLabels":{"app":"web"}},"mtls":{"mode":"UNSET"},"portLevelMtls":{"8080":{"mode":"PERMISSIVE"}}}`)},
		{
			name: "portLevelMtls without a selector",
			spec: peerAuthnJSON(`{"mtls":{"mode":"STRICT"},"portLevelMtls":{"8080":{"mode":"DISABLE"}}}`),
			want: []wantFinding{wantErr("spec.portLevelMtls", "portLevelMtls requires selector")},
		},
		{
			name: "portLevelMtls with a selector without labels",
			spec: peerAuthnJSON(`{"selector":{},"mtls":{"mode":"STRICT"},"portLevelMtls":{"8080":{"mode":"DISABLE"}}}`),
			want: []wantFinding{
				wantErr("spec.portLevelMtls", "portLevelMtls requires selector"),
				wantWarn("spec.selector.matchLabels", "without labels"),
			},
		},
		{
			name: "present but empty portLevelMtls",
			spec: &security.PeerAuthentication{
				Selector:      &typev1beta1.WorkloadSelector{MatchLabels: map[string]string{"app": "web"}},
				Mtls:          &security.PeerAuthentication_MutualTLS{Mode: security.PeerAuthentication_MutualTLS_STRICT},
				PortLevelMtls: map[uint32]*security.PeerAuthentication_MutualTLS{},
			},
			want: []wantFinding{wantErr("spec.portLevelMtls", "must have at least one port")},
		},
		{
			name: "port 0",
			spec: peerAuthnJSON(`{"selector":{"matchLabels":{"app":"web"}},"mtls":{"mode":"STRICT"},"portLevelMtls":{"0":{"mode":"DISABLE"}}}`),
			want: []wantFinding{wantErr("spec.portLevelMtls[0]", "port must be between 1 and 65535")},
		},
		{
			name: "port above 65535",
			spec: peerAuthnJSON(`{"selector":{"matchLabels":{"app":"web"}},"mtls":{"mode":"STRICT"},"portLevelMtls":{"70000":{"mode":"DISABLE"}}}`),
			want: []wantFinding{wantErr("spec.portLevelMtls[70000]", "port must be between 1 and 65535")},
		},
		{
			name: "UNSET port mode changes nothing",
			spec: peerAuthnJSON(`{"selector":{"matchLabels":{"app":"web"}},"mtls":{"mode":"STRICT"},"portLevelMtls":{"8080":{}}}`),
			want: []wantFinding{wantWarn("spec.portLevelMtls[8080].mode", "mode is UNSET")},
		},
		{
			name: "UNSET mode without port overrides",
			spec: peerAuthnJSON(`{"mtls":{"mode":"UNSET"}}`),
			want: []wantFinding{wantWarn("spec.mtls.mode", "mtls mode is UNSET")},
		},
		{
			name: "no mtls at all",
			spec: peerAuthnJSON(`{"selector":{"matchLabels":{"app":"web"}}}`),
			want: []wantFinding{wantWarn("spec.mtls", "mtls mode is UNSET")},
		},
		{
			name: "selector key wildcard",
			spec: peerAuthnJSON(`{"selector":{"matchLabels":{"app*":"web"}},"mtls":{"mode":"STRICT"}}`),
			want: []wantFinding{wantErr("spec.selector.matchLabels[app*]", "wildcard is not supported")},
		},
		{
			name: "dry-run is for AuthorizationPolicy only",
			meta: dryRun("true"),
			spec: peerAuthnJSON(`{"mtls":{"mode":"STRICT"}}`),
			want: []wantFinding{wantErr("metadata.annotations[istio.io/dry-run]", "unsupported annotation istio.io/dry-run")},
		},
	})
}
