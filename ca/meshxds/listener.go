package meshxds

import (
	"fmt"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	originaldst "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/original_dst/v3"
	tlsinspector "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	tcpproxy "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/ca/posture"
)

// The inbound listener as istiod names and binds it (MeshConfig proxyInboundListenPort).
const (
	VirtualInboundListenerName = "virtualInbound"
	VirtualInboundPort         = 15006
	// blackholeChainName is istiod's chain for a listener with nothing to serve: Envoy refuses a
	// listener without filter chains.
	blackholeChainName = "virtualInbound-blackhole"
)

// Transport protocols the tls_inspector sets, matched by filter chains.
const (
	transportTLS = "tls"
	transportRaw = "raw_buffer"
)

// chainMatch is one of istiod's FilterChainMatchOptions for a TCP port.
type chainMatch struct {
	alpn      []string
	transport string
	terminate bool // terminate mesh mTLS (else the bytes reach the app as they came)
}

// chainMatches are istiod's inbound chains for a TCP port by mode (filterchain_options.go). Every
// port is served by tcp_proxy here, so the TCP option sets apply:
//   - STRICT: one chain, any TLS, terminated with a required client certificate. A plaintext
//     connection matches no chain and is closed.
//   - PERMISSIVE: TLS offering an Istio ALPN is mesh mTLS and terminated; plaintext goes to the
//     app; TLS without an Istio ALPN is the app's own TLS and passes through untouched.
//   - DISABLE: plaintext only, nothing terminated.
func chainMatches(m posture.Mode) ([]chainMatch, error) {
	switch m {
	case posture.Strict:
		return []chainMatch{{transport: transportTLS, terminate: true}}, nil
	case posture.Permissive:
		return []chainMatch{
			{alpn: allIstioMTLSALPNs, transport: transportTLS, terminate: true},
			{transport: transportRaw},
			{transport: transportTLS},
		}, nil
	case posture.Disable:
		return []chainMatch{{transport: transportRaw}}, nil
	}
	return nil, fmt.Errorf("mode %q: not STRICT, PERMISSIVE or DISABLE", m)
}

// virtualInbound builds the listener every redirected inbound connection lands on. The
// original_dst listener filter restores the port the peer dialled, which the chains match on;
// tls_inspector sets the transport protocol and ALPN.
func virtualInbound(ports []InboundPort, pol posture.Policy) (*listenerv3.Listener, error) {
	l := &listenerv3.Listener{
		Name:                             VirtualInboundListenerName,
		Address:                          socketAddress("0.0.0.0", VirtualInboundPort),
		TrafficDirection:                 core.TrafficDirection_INBOUND,
		ContinueOnListenerFiltersTimeout: true,
	}
	originalDst, err := typed(&originaldst.OriginalDst{})
	if err != nil {
		return nil, err
	}
	inspector, err := typed(&tlsinspector.TlsInspector{})
	if err != nil {
		return nil, err
	}
	l.ListenerFilters = []*listenerv3.ListenerFilter{
		{Name: wellknown.OriginalDestination, ConfigType: &listenerv3.ListenerFilter_TypedConfig{TypedConfig: originalDst}},
		{Name: wellknown.TLSInspector, ConfigType: &listenerv3.ListenerFilter_TypedConfig{TypedConfig: inspector}},
	}
	for _, p := range ports {
		// portLevelMtls is keyed by the workload's port (Istio: "the port of the workload, not
		// the service"), which is the ServiceEntry targetPort, AppPort here.
		mode := pol.For(p.AppPort)
		chains, err := portChains(p, mode)
		if err != nil {
			return nil, fmt.Errorf("port %d: %w", p.Port, err)
		}
		l.FilterChains = append(l.FilterChains, chains...)
	}
	if len(l.FilterChains) == 0 {
		proxy, err := tcpProxy(blackHoleCluster)
		if err != nil {
			return nil, err
		}
		l.FilterChains = []*listenerv3.FilterChain{{Name: blackholeChainName, Filters: []*listenerv3.Filter{proxy}}}
	}
	return l, nil
}

// portChains are one port's chains, all named as istiod names them ("0.0.0.0_<port>").
func portChains(p InboundPort, mode posture.Mode) ([]*listenerv3.FilterChain, error) {
	matches, err := chainMatches(mode)
	if err != nil {
		return nil, err
	}
	cluster := inboundClusterName(p.Port)
	out := make([]*listenerv3.FilterChain, 0, len(matches))
	for _, m := range matches {
		proxy, err := tcpProxy(cluster)
		if err != nil {
			return nil, err
		}
		fc := &listenerv3.FilterChain{
			Name: fmt.Sprintf("0.0.0.0_%d", p.Port),
			FilterChainMatch: &listenerv3.FilterChainMatch{
				DestinationPort:      wrapperspb.UInt32(p.Port),
				TransportProtocol:    m.transport,
				ApplicationProtocols: m.alpn,
			},
			Filters: []*listenerv3.Filter{proxy},
		}
		if m.terminate {
			ctx, err := typed(inboundMTLS())
			if err != nil {
				return nil, err
			}
			fc.TransportSocket = &core.TransportSocket{
				Name:       wellknown.TransportSocketTLS,
				ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: ctx},
			}
		}
		out = append(out, fc)
	}
	return out, nil
}

// tcpProxy forwards a chain's connections to cluster; istiod uses the cluster name as the stat
// prefix on inbound.
func tcpProxy(cluster string) (*listenerv3.Filter, error) {
	cfg, err := typed(&tcpproxy.TcpProxy{
		StatPrefix:       cluster,
		ClusterSpecifier: &tcpproxy.TcpProxy_Cluster{Cluster: cluster},
	})
	if err != nil {
		return nil, err
	}
	return &listenerv3.Filter{Name: wellknown.TCPProxy, ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: cfg}}, nil
}

// typed packs an extension config, deterministically so equal configs give equal bytes (and
// equal snapshot versions).
func typed(m proto.Message) (*anypb.Any, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return &anypb.Any{TypeUrl: "type.googleapis.com/" + string(m.ProtoReflect().Descriptor().FullName()), Value: b}, nil
}
