package validation

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	meshconfig "istio.io/api/mesh/v1alpha1"
)

// validateProxyConfig checks MeshConfig defaultConfig, the proxy settings every workload and
// gateway starts from. As for the rest of the MeshConfig, unset fields take Istio's defaults and
// are not checked.
func validateProxyConfig(field string, pc *meshconfig.ProxyConfig, r *report) {
	if pc == nil {
		return
	}
	if c, ok := pc.GetClusterName().(*meshconfig.ProxyConfig_ServiceCluster); ok && c.ServiceCluster == "" {
		r.errorf(path(field, "serviceCluster"), "service cluster must not be empty when set")
	}
	if d := pc.GetDrainDuration(); d != nil {
		f := path(field, "drainDuration")
		validateDuration(f, d, r)
		if d.AsDuration()%time.Second != 0 {
			r.errorf(f, "drainDuration %v: only durations to seconds precision are supported", d.AsDuration())
		}
	}
	addresses := []struct {
		name, value string
	}{
		{"discoveryAddress", pc.GetDiscoveryAddress()},
		{"statsdUdpAddress", pc.GetStatsdUdpAddress()},
		{"envoyMetricsService.address", pc.GetEnvoyMetricsService().GetAddress()},
		{"envoyAccessLogService.address", pc.GetEnvoyAccessLogService().GetAddress()},
		// The collector usually runs on the node; the proxy substitutes its host IP at startup.
		{"tracing.zipkin.address", strings.Replace(pc.GetTracing().GetZipkin().GetAddress(), "$(HOST_IP)", "127.0.0.1", 1)},
		{"tracing.datadog.address", strings.Replace(pc.GetTracing().GetDatadog().GetAddress(), "$(HOST_IP)", "127.0.0.1", 1)},
	}
	for _, a := range addresses {
		if a.value != "" {
			validateProxyAddress(path(field, a.name), a.value, r)
		}
	}
	//lint:ignore SA1019 Istio still reads the deprecated field, so it is still checked
	if addr := pc.GetEnvoyMetricsServiceAddress(); addr != "" {
		validateProxyAddress(path(field, "envoyMetricsServiceAddress"), addr, r)
		r.warnf(path(field, "envoyMetricsServiceAddress"), "envoyMetricsServiceAddress is deprecated, use envoyMetricsService instead")
	}
	if ls := pc.GetTracing().GetLightstep(); ls != nil {
		f := path(field, "tracing.lightstep")
		if ls.GetAddress() == "" {
			r.errorf(path(f, "address"), "address is required")
		} else {
			validateProxyAddress(path(f, "address"), ls.GetAddress(), r)
		}
		if ls.GetAccessToken() == "" {
			r.errorf(path(f, "accessToken"), "access token is required")
		}
	}
	validateMeshListenPort(path(field, "proxyAdminPort"), pc.GetProxyAdminPort(), r)
	validateMeshListenPort(path(field, "statusPort"), pc.GetStatusPort(), r)
	switch p := pc.GetControlPlaneAuthPolicy(); p {
	case meshconfig.AuthenticationPolicy_NONE, meshconfig.AuthenticationPolicy_MUTUAL_TLS:
	default:
		r.errorf(path(field, "controlPlaneAuthPolicy"), "unrecognized control plane auth policy %q: want NONE or MUTUAL_TLS", p)
	}
	if _, ok := pc.GetProxyMetadata()["ISTIO_META_DNS_AUTO_ALLOCATE"]; ok {
		r.warnf(keyPath(path(field, "proxyMetadata"), "ISTIO_META_DNS_AUTO_ALLOCATE"),
			"ISTIO_META_DNS_AUTO_ALLOCATE is deprecated: DNS auto-allocation v2 (ServiceEntry address allocation) replaces it")
	}
}

// validateProxyAddress checks "host:port" where host is a DNS name or an IP address.
func validateProxyAddress(field, addr string, r *report) {
	if reason := proxyAddressProblem(addr); reason != "" {
		r.errorf(field, "%s", reason)
	}
}

func proxyAddressProblem(addr string) string {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("address %q is not host:port: %v", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Sprintf("address %q: port %q is not a number", addr, portStr)
	}
	if port < 1 || port > 65535 {
		return fmt.Sprintf("address %q: port number %d must be in the range 1..65535", addr, port)
	}
	if fqdnProblem(host) != "" && !isIPAddress(host) {
		return fmt.Sprintf("address %q: %q is not a valid hostname or an IP address", addr, host)
	}
	return ""
}
