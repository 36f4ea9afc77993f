package validation

import (
	"strings"
	"testing"
)

func TestWorkloadEntry(t *testing.T) {
	t.Parallel()
	runCases(t, []validationCase{
		{name: "valid IP", spec: workloadEntryJSON(`{"address":"10.0.0.1","ports":{"http":8080},"labels":{"app":"a"},"serviceAccount":"sa"}`)},
		{name: "valid hostname", spec: workloadEntryJSON(`{"address":"vm1.example.com"}`)},
		{name: "valid IPv6", spec: workloadEntryJSON(`{"address":"2001:db8::1"}`)},
		{name: "valid unix socket", spec: workloadEntryJSON(`{"address":"unix://@abstract"}`)},
		{name: "address required", spec: workloadEntryJSON(`{"labels":{"app":"a"}}`),
			want: []wantFinding{wantErr("spec.address", "address is required")}},
		{name: "network without address", spec: workloadEntryJSON(`{"network":"vpc-2"}`),
			want: []wantFinding{wantWarn("spec.address", "address is unset with network")}},
		{name: "bad address", spec: workloadEntryJSON(`{"address":"not_a_host"}`),
			want: []wantFinding{wantErr("spec.address", "not a valid FQDN or an IP address")}},
		{name: "unix relative path", spec: workloadEntryJSON(`{"address":"unix://a.sock"}`),
			want: []wantFinding{wantErr("spec.address", "not an absolute path")}},
		{name: "unix directory", spec: workloadEntryJSON(`{"address":"unix:///run/"}`),
			want: []wantFinding{wantErr("spec.address", "not an absolute path")}},
		{name: "unix with ports", spec: workloadEntryJSON(`{"address":"unix:///a.sock","ports":{"http":80}}`),
			want: []wantFinding{wantErr("spec.ports", "must not include ports")}},
		{name: "bad port name", spec: workloadEntryJSON(`{"address":"10.0.0.1","ports":{"http_1":80}}`),
			want: []wantFinding{wantErr("spec.ports[http_1]", "invalid port name")}},
		{name: "bad port number", spec: workloadEntryJSON(`{"address":"10.0.0.1","ports":{"http":65536}}`),
			want: []wantFinding{wantErr("spec.ports[http]", "1..65535")}},
		{name: "bad label", spec: workloadEntryJSON(`{"address":"10.0.0.1","labels":{"app":"-x"}}`),
			want: []wantFinding{wantErr("spec.labels[app]", "invalid label value")}},
		{name: "address too long", spec: workloadEntryJSON(`{"address":"` + longDomain(257) + `"}`),
			want: []wantFinding{wantErr("spec.address", "at most 256 characters"), wantErr("spec.address", "not a valid FQDN")}},
		{name: "serviceAccount too long", spec: workloadEntryJSON(`{"address":"10.0.0.1","serviceAccount":"` + strings.Repeat("s", 254) + `"}`),
			want: []wantFinding{wantErr("spec.serviceAccount", "at most 253 characters")}},
	})
}
