package validation

import (
	networking "istio.io/api/networking/v1alpha3"
)

func validateConnectionPool(field string, cp *networking.ConnectionPoolSettings, r *report) {
	if cp == nil {
		return
	}
	if cp.GetHttp() == nil && cp.GetTcp() == nil {
		r.errorf(field, "connection pool must have at least one field")
		return
	}
	if h := cp.GetHttp(); h != nil {
		f := path(field, "http")
		nonNegative(path(f, "http1MaxPendingRequests"), h.GetHttp1MaxPendingRequests(), "http1 max pending requests", r)
		nonNegative(path(f, "http2MaxRequests"), h.GetHttp2MaxRequests(), "http2 max requests", r)
		nonNegative(path(f, "maxRequestsPerConnection"), h.GetMaxRequestsPerConnection(), "max requests per connection", r)
		nonNegative(path(f, "maxRetries"), h.GetMaxRetries(), "max retries", r)
		nonNegative(path(f, "maxConcurrentStreams"), h.GetMaxConcurrentStreams(), "max concurrent streams", r)
		validateDuration(path(f, "idleTimeout"), h.GetIdleTimeout(), r)
		if h.GetH2UpgradePolicy() == networking.ConnectionPoolSettings_HTTPSettings_UPGRADE && h.GetUseClientProtocol() {
			r.errorf(path(f, "useClientProtocol"), "use client protocol must not be true when h2UpgradePolicy is UPGRADE")
		}
		if ka := h.GetHttp2KeepAlive(); ka != nil {
			validateDuration(path(path(f, "http2KeepAlive"), "interval"), ka.GetInterval(), r)
			validateDuration(path(path(f, "http2KeepAlive"), "timeout"), ka.GetTimeout(), r)
		}
	}
	if t := cp.GetTcp(); t != nil {
		f := path(field, "tcp")
		nonNegative(path(f, "maxConnections"), t.GetMaxConnections(), "max connections", r)
		validateDuration(path(f, "connectTimeout"), t.GetConnectTimeout(), r)
		validateDuration(path(f, "maxConnectionDuration"), t.GetMaxConnectionDuration(), r)
		// 0s disables the TCP idle timeout entirely.
		validateDurationOrZero(path(f, "idleTimeout"), t.GetIdleTimeout(), r)
		if ka := t.GetTcpKeepalive(); ka != nil {
			validateDuration(path(path(f, "tcpKeepalive"), "time"), ka.GetTime(), r)
			validateDuration(path(path(f, "tcpKeepalive"), "interval"), ka.GetInterval(), r)
		}
	}
}

func nonNegative(field string, v int32, what string, r *report) {
	if v < 0 {
		r.errorf(field, "%s must be non-negative", what)
	}
}
