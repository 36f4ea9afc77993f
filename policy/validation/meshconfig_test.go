package validation

import "testing"

func TestMeshConfig(t *testing.T) {
	t.Parallel()
	runCases(t, []validationCase{
		{name: "empty: every field takes its default", spec: meshJSON(`{}`)},
		{
			name: "typical edge mesh config",
			spec: meshJSON(`{"trustDomain":"example.com","trustDomainAliases":["old.example.com","legacy."],"rootNamespace":"istio-system",
				"defaultServiceExportTo":["."],"defaultVirtualServiceExportTo":["*"],"defaultDestinationRuleExportTo":["~"],
				"proxyListenPort":15001,"connectTimeout":"10s","protocolDetectionTimeout":"0s",
				"pathNormalization":{"normalization":"MERGE_SLASHES"},
				"serviceSettings":[{"settings":{"clusterLocal":true},"hosts":["*.svc.cluster.local"]}],
				"tlsDefaults":{"ecdhCurves":["X25519","P-256"]},
				"defaultConfig":{"gatewayTopology":{"numTrustedProxies":1}}}`),
		},
		{
			name: "trust domain label syntax",
			spec: meshJSON(`{"trustDomain":"my_domain.local"}`),
			want: []wantFinding{wantErr("data.mesh.trustDomain", `trust domain name "my_domain.local" invalid`)},
		},
		{
			name: "trust domain with an empty label",
			spec: meshJSON(`{"trustDomain":"a..b"}`),
			want: []wantFinding{wantErr("data.mesh.trustDomain", "invalid")},
		},
		{
			name: "upper case trust domain",
			spec: meshJSON(`{"trustDomain":"Example.com"}`),
			want: []wantFinding{wantWarn("data.mesh.trustDomain", "SPIFFE IDs require a lower case trust domain")},
		},
		{
			name: "empty trust domain alias",
			spec: meshJSON(`{"trustDomainAliases":["ok.example.com",""]}`),
			want: []wantFinding{wantErr("data.mesh.trustDomainAliases[1]", "empty trust domain name not allowed")},
		},
		{
			name: "trust domain alias syntax",
			spec: meshJSON(`{"trustDomainAliases":["-bad.example.com"]}`),
			want: []wantFinding{wantErr("data.mesh.trustDomainAliases[0]", "invalid")},
		},
		{
			name: "root namespace that cannot exist",
			spec: meshJSON(`{"rootNamespace":"istio.system"}`),
			want: []wantFinding{wantWarn("data.mesh.rootNamespace", "not a valid namespace name")},
		},
		{
			name: "default exportTo entry that is not a namespace",
			spec: meshJSON(`{"defaultVirtualServiceExportTo":["all namespaces"]}`),
			want: []wantFinding{wantWarn("data.mesh.defaultVirtualServiceExportTo[0]", "valid namespace name")},
		},
		{
			name: "default exportTo mixing * with namespaces",
			spec: meshJSON(`{"defaultServiceExportTo":["*","prod"]}`),
			want: []wantFinding{wantWarn("data.mesh.defaultServiceExportTo", "both public (*) and non-public")},
		},
		{
			name: "default exportTo duplicates",
			spec: meshJSON(`{"defaultDestinationRuleExportTo":["prod","prod"]}`),
			want: []wantFinding{wantWarn("data.mesh.defaultDestinationRuleExportTo[1]", "duplicate entries")},
		},
		{
			name: "proxyListenPort range",
			spec: meshJSON(`{"proxyListenPort":70000}`),
			want: []wantFinding{wantErr("data.mesh.proxyListenPort", "must be in the range 1..65535")},
		},
		{
			name: "connectTimeout too long",
			spec: meshJSON(`{"connectTimeout":"7201s"}`),
			want: []wantFinding{wantErr("data.mesh.connectTimeout", "must be at most 1h")},
		},
		{
			name: "connectTimeout zero",
			spec: meshJSON(`{"connectTimeout":"0s"}`),
			want: []wantFinding{wantErr("data.mesh.connectTimeout", "greater than 1ms")},
		},
		{
			name: "protocolDetectionTimeout finer than ms",
			spec: meshJSON(`{"protocolDetectionTimeout":"0.0001s"}`),
			want: []wantFinding{wantErr("data.mesh.protocolDetectionTimeout", "ms precision")},
		},
		{
			name: "dnsRefreshRate zero",
			spec: meshJSON(`{"dnsRefreshRate":"0s"}`),
			want: []wantFinding{wantErr("data.mesh.dnsRefreshRate", "greater than 0s")},
		},
		{
			name: "serviceSettings host syntax",
			spec: meshJSON(`{"serviceSettings":[{"hosts":["foo.*.local"]}]}`),
			want: []wantFinding{wantErr("data.mesh.serviceSettings[0].hosts[0]", "invalid")},
		},
		{
			name: "meshMTLS has no ecdhCurves",
			spec: meshJSON(`{"meshMTLS":{"ecdhCurves":["P-256"]}}`),
			want: []wantFinding{wantErr("data.mesh.meshMTLS.ecdhCurves", "does not support ecdhCurves")},
		},
		{
			name: "unknown and duplicate ECDH curves",
			spec: meshJSON(`{"tlsDefaults":{"ecdhCurves":["P-256","P-255","P-256"]}}`),
			want: []wantFinding{
				wantWarn("data.mesh.tlsDefaults.ecdhCurves[1]", `unrecognized ECDH curve "P-255"`),
				wantWarn("data.mesh.tlsDefaults.ecdhCurves[2]", `duplicate ECDH curve "P-256"`),
			},
		},
	})
}
