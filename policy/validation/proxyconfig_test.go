package validation

import "testing"

func TestMeshDefaultConfig(t *testing.T) {
	t.Parallel()
	row := func(name, proxyConfig string, want ...wantFinding) validationCase {
		return validationCase{name: name, spec: meshJSON(`{"defaultConfig":` + proxyConfig + `}`), want: want}
	}
	const dc = "data.mesh.defaultConfig"
	runCases(t, []validationCase{
		row("typical proxy settings", `{"discoveryAddress":"istiod.istio-system.svc:15012","drainDuration":"45s",
			"proxyAdminPort":15000,"statusPort":15020,"controlPlaneAuthPolicy":"MUTUAL_TLS",
			"tracing":{"zipkin":{"address":"$(HOST_IP):9411"}},"envoyAccessLogService":{"address":"als.example.com:9000"},
			"gatewayTopology":{"numTrustedProxies":2,"forwardClientCertDetails":"SANITIZE_SET"},"proxyMetadata":{"ISTIO_META_DNS_CAPTURE":"true"}}`),
		row("discovery address without a port", `{"discoveryAddress":"istiod.istio-system.svc"}`,
			wantErr(dc+".discoveryAddress", "is not host:port")),
		row("discovery address port range", `{"discoveryAddress":"istiod:0"}`,
			wantErr(dc+".discoveryAddress", "must be in the range 1..65535")),
		row("statsd host syntax", `{"statsdUdpAddress":"bad_host:8125"}`,
			wantErr(dc+".statsdUdpAddress", "not a valid hostname or an IP address")),
		row("metrics service address", `{"envoyMetricsService":{"address":"metrics:port"}}`,
			wantErr(dc+".envoyMetricsService.address", "is not a number")),
		row("deprecated metrics service address", `{"envoyMetricsServiceAddress":"metrics.example.com:9000"}`,
			wantWarn(dc+".envoyMetricsServiceAddress", "deprecated")),
		row("datadog address", `{"tracing":{"datadog":{"address":"$(HOST_IP)"}}}`,
			wantErr(dc+".tracing.datadog.address", "is not host:port")),
		row("lightstep needs address and token", `{"tracing":{"lightstep":{}}}`,
			wantErr(dc+".tracing.lightstep.address", "address is required"),
			wantErr(dc+".tracing.lightstep.accessToken", "access token is required")),
		row("drainDuration whole seconds", `{"drainDuration":"1.5s"}`,
			wantErr(dc+".drainDuration", "seconds precision")),
		row("drainDuration zero", `{"drainDuration":"0s"}`,
			wantErr(dc+".drainDuration", "greater than 1ms")),
		row("empty service cluster", `{"serviceCluster":""}`,
			wantErr(dc+".serviceCluster", "must not be empty")),
		row("admin port range", `{"proxyAdminPort":-1}`,
			wantErr(dc+".proxyAdminPort", "port number -1")),
		row("status port range", `{"statusPort":65536}`,
			wantErr(dc+".statusPort", "port number 65536")),
		row("control plane auth policy INHERIT", `{"controlPlaneAuthPolicy":"INHERIT"}`,
			wantErr(dc+".controlPlaneAuthPolicy", "unrecognized control plane auth policy")),
		row("deprecated DNS auto allocation", `{"proxyMetadata":{"ISTIO_META_DNS_AUTO_ALLOCATE":"true"}}`,
			wantWarn(dc+".proxyMetadata[ISTIO_META_DNS_AUTO_ALLOCATE]", "deprecated")),
	})
}
