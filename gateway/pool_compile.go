package gateway

import (
	networking "istio.io/api/networking/v1alpha3"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// compileConnectionPool translates connectionPool; nil when nothing in it changes the defaults.
func (c *compiler) compileConnectionPool(dr *policy.Resource, field string, cp *networking.ConnectionPoolSettings) *ConnectionPool {
	if cp == nil {
		return nil
	}
	tcp, h := cp.GetTcp(), cp.GetHttp()
	p := &ConnectionPool{
		MaxConnections:           tcp.GetMaxConnections(),
		ConnectTimeout:           Duration(tcp.GetConnectTimeout().AsDuration()),
		IdleTimeout:              Duration(tcp.GetIdleTimeout().AsDuration()),
		MaxPendingRequests:       h.GetHttp1MaxPendingRequests(),
		MaxRequests:              h.GetHttp2MaxRequests(),
		MaxRequestsPerConnection: h.GetMaxRequestsPerConnection(),
		MaxRetries:               h.GetMaxRetries(),
		H2Upgrade:                h.GetH2UpgradePolicy() == networking.ConnectionPoolSettings_HTTPSettings_UPGRADE,
	}
	if h.GetIdleTimeout() != nil {
		p.IdleTimeout = Duration(h.GetIdleTimeout().AsDuration())
	}
	if p.MaxRequestsPerConnection > 1 {
		c.problems.warn(dr, field+".http.maxRequestsPerConnection", "only 1 (no keep-alive) is enforced by the gateway: %d ignored", p.MaxRequestsPerConnection)
	}
	if tcp.GetTcpKeepalive() != nil || tcp.GetMaxConnectionDuration() != nil || h.GetMaxConcurrentStreams() != 0 || h.GetUseClientProtocol() {
		c.problems.warn(dr, field, "tcpKeepalive, maxConnectionDuration, maxConcurrentStreams and useClientProtocol are not applied by the gateway: ignored")
	}
	if *p == (ConnectionPool{}) {
		return nil
	}
	return p
}
