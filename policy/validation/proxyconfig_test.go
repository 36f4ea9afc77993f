package validation

import "testing"

func TestMeshDefaultConfig(t *testing.T) {
	t.Parallel()
	row := func(name, proxyConfig string, want ...secWant) securityCase {
		return securityCase{name: name, spec: meshJSON(`{"defaultConfig":` + proxyConfig + `}`), want: want}
	}
	const dc = "data.mesh.defaultConfig"
	runSecurityCases(t, []securityCase{
		row("typical proxy settings", `{"discoveryAddress":"istiod.istio-system.svc:15012","drainDuration":"45s",
			"proxyAdminPort":15000,"statusPort":15020,"controlPlaneAuthPolicy":"MUTUAL_TLS",
			"tracing":{"zipkin":{"address":"$(HOST_IP):9411"}},"envoyAccessLogService":{"address":"als.example.com:9000"},
			"gatewayTopology":{"numTrustedProxies":2,"forwardClientCertDetails":"SANITIZE_SET"},"proxyMetadata":{"ISTIO_META_DNS_CAPTURE":"true"}}`),
		row("discovery address without a port", `{"discoveryAddress":"istiod.istio-system.svc"}`,
			secErr(dc+".discoveryAddress", "is not host:port")),
		row("discovery address port range", `{"discoveryAddress":"istiod:0"}`,
			secErr(dc+".discoveryAddress", "must be in the range 1..65535")),
		row("statsd host syntax", `{"statsdUdpAddress":"bad_host:8125"}`,
			secErr(dc+".statsdUdpAddress", "not a valid hostname or an IP address")),
		row("metrics service address", `{"envoyMetricsService":{"address":"metrics:port"}}`,
			secErr(dc+".envoyMetricsService.address", "is not a number")),
		row("deprecated metrics service address", `{"envoyMetricsServiceAddress":"metrics.example.com:9000"}`,
			secWarn(dc+".envoyMetricsServiceAddress", "deprecated")),
		row("datadog address", `{"tracing":{"datadog":{"address":"$(HOST_IP)"}}}`,
			secErr(dc+".tracing.datadog.address", "is not host:port")),
		row("lightstep needs address and token", `{"tracing":{"lightstep":{}}}`,
			secErr(dc+".tracing.lightstep.address", "address is required"),
			secErr(dc+".tracing.lightstep.accessToken", "access token is required")),
		row("drainDuration whole seconds", `{"drainDuration":"1.5s"}`,
			secErr(dc+".drainDuration", "seconds precision")),
		row("drainDuration zero", `{"drainDuration":"0s"}`,
			secErr(dc+".drainDuration", "greater than 1ms")),
		row("empty service cluster", `{"serviceCluster":""}`,
			secErr(dc+".serviceCluster", "must not be empty")),
		row("admin port range", `{"proxyAdminPort":-1}`,
			secErr(dc+".proxyAdminPort", "port number -1")),
		row("status port range", `{"statusPort":65536}`,
			secErr(dc+".statusPort", "port number 65536")),
		row("control plane auth policy INHERIT", `{"controlPlaneAuthPolicy":"INHERIT"}`,
			secErr(dc+".controlPlaneAuthPolicy", "unrecognized control plane auth policy")),
		row("deprecated DNS auto allocation", `{"proxyMetadata":{"ISTIO_META_DNS_AUTO_ALLOCATE":"true"}}`,
			secWarn(dc+".proxyMetadata[ISTIO_META_DNS_AUTO_ALLOCATE]", "deprecated")),
	})
}
