package meshxds

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
)

// The names and files istio-agent's bootstrap uses, so a sidecar set up by hand reads like one
// Istio injected.
const (
	XDSClusterName = "xds-grpc"
	// Istio's mounted-certificate layout (/etc/certs).
	CertChainFile = "cert-chain.pem"
	KeyFile       = "key.pem"
	RootCertFile  = "root-cert.pem"
	// AdminPort is Envoy's admin port in Istio, on loopback only.
	AdminPort = 15000
)

// BootstrapOptions describe the sidecar a bootstrap is for and where its Gatehouse is.
type BootstrapOptions struct {
	Namespace, ServiceAccount string
	Labels                    map[string]string
	// PodName and IP go into the node id ("sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local").
	PodName, IP string
	// XDSAddress is host:port of Gatehouse's TLS xDS port (15012).
	XDSAddress string
	// CertDir holds the workload's cert-chain.pem, key.pem and root-cert.pem; Envoy reads them
	// at start, so it should be absolute.
	CertDir string
}

// Bootstrap is the Envoy bootstrap that points a sidecar's ADS at Gatehouse: the node as
// istio-agent announces it, Listeners and Clusters over ADS, one static cluster "xds-grpc" to
// XDSAddress over HTTP/2 and mutual TLS with the workload's certificate files, and the admin
// interface on 127.0.0.1:15000. It passes ValidateAll.
func Bootstrap(o BootstrapOptions) (*bootstrapv3.Bootstrap, error) {
	switch {
	case o.Namespace == "":
		return nil, errors.New("bootstrap: namespace: empty")
	case o.ServiceAccount == "":
		return nil, errors.New("bootstrap: service account: empty")
	case o.PodName == "":
		return nil, errors.New("bootstrap: pod name: empty")
	case o.CertDir == "":
		return nil, errors.New("bootstrap: cert dir: empty")
	}
	if _, err := netip.ParseAddr(o.IP); err != nil {
		return nil, fmt.Errorf("bootstrap: ip %q: %w", o.IP, err)
	}
	node, err := bootstrapNode(o)
	if err != nil {
		return nil, err
	}
	xds, err := xdsCluster(o)
	if err != nil {
		return nil, err
	}
	b := &bootstrapv3.Bootstrap{
		Node: node,
		Admin: &bootstrapv3.Admin{
			Address: socketAddress("127.0.0.1", AdminPort),
		},
		DynamicResources: &bootstrapv3.Bootstrap_DynamicResources{
			// As istio-agent: no initial fetch timeout, so Envoy waits for its config rather than
			// starting with none.
			LdsConfig: &core.ConfigSource{
				ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}},
				InitialFetchTimeout:   durationpb.New(0),
				ResourceApiVersion:    core.ApiVersion_V3,
			},
			CdsConfig: &core.ConfigSource{
				ConfigSourceSpecifier: &core.ConfigSource_Ads{Ads: &core.AggregatedConfigSource{}},
				InitialFetchTimeout:   durationpb.New(0),
				ResourceApiVersion:    core.ApiVersion_V3,
			},
			AdsConfig: &core.ApiConfigSource{
				ApiType:                   core.ApiConfigSource_GRPC,
				TransportApiVersion:       core.ApiVersion_V3,
				SetNodeOnFirstMessageOnly: true,
				GrpcServices: []*core.GrpcService{{
					TargetSpecifier: &core.GrpcService_EnvoyGrpc_{EnvoyGrpc: &core.GrpcService_EnvoyGrpc{ClusterName: XDSClusterName}},
				}},
			},
		},
		StaticResources: &bootstrapv3.Bootstrap_StaticResources{Clusters: []*clusterv3.Cluster{xds}},
	}
	if err := b.ValidateAll(); err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	return b, nil
}

// bootstrapNode is the node istio-agent sends: the Istio id, the service cluster "<app>.<ns>"
// (istio-proxy without an app label), and the metadata ProxyFromNode reads back.
func bootstrapNode(o BootstrapOptions) (*core.Node, error) {
	labels := make(map[string]any, len(o.Labels))
	for k, v := range o.Labels {
		labels[k] = v
	}
	meta, err := structpb.NewStruct(map[string]any{
		metaNamespace:      o.Namespace,
		metaServiceAccount: o.ServiceAccount,
		metaLabels:         labels,
		metaName:           o.PodName,
		metaInstanceIPs:    o.IP,
	})
	if err != nil {
		return nil, fmt.Errorf("bootstrap: node metadata: %w", err)
	}
	cluster := "istio-proxy"
	if app := o.Labels["app"]; app != "" {
		cluster = app + "." + o.Namespace
	}
	return &core.Node{
		Id:       fmt.Sprintf("%s~%s~%s.%s~%s.svc.cluster.local", sidecarType, o.IP, o.PodName, o.Namespace, o.Namespace),
		Cluster:  cluster,
		Metadata: meta,
	}, nil
}

// xdsCluster reaches Gatehouse's xDS port over HTTP/2 and mutual TLS, presenting the workload's
// certificate (Istio's "xds-grpc" to istiod:15012 before istio-agent proxied it). A host name is
// resolved by DNS and sent as SNI; an IP is used as is.
func xdsCluster(o BootstrapOptions) (*clusterv3.Cluster, error) {
	host, portStr, err := net.SplitHostPort(o.XDSAddress)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: xds address %q: %w", o.XDSAddress, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 || host == "" {
		return nil, fmt.Errorf("bootstrap: xds address %q: want host:port", o.XDSAddress)
	}
	file := func(name string) *core.DataSource {
		return &core.DataSource{Specifier: &core.DataSource_Filename{Filename: filepath.Join(o.CertDir, name)}}
	}
	upstreamTLS := &tlsv3.UpstreamTlsContext{
		CommonTlsContext: &tlsv3.CommonTlsContext{
			AlpnProtocols: []string{"h2"},
			TlsCertificates: []*tlsv3.TlsCertificate{{
				CertificateChain: file(CertChainFile),
				PrivateKey:       file(KeyFile),
			}},
			ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{
				ValidationContext: &tlsv3.CertificateValidationContext{TrustedCa: file(RootCertFile)},
			},
		},
	}
	discovery := clusterv3.Cluster_STATIC
	if _, err := netip.ParseAddr(host); err != nil {
		discovery = clusterv3.Cluster_STRICT_DNS
		upstreamTLS.Sni = host
	}
	tlsAny, err := typed(upstreamTLS)
	if err != nil {
		return nil, err
	}
	// istio-agent keeps the xDS connection alive through idle NATs and load balancers.
	h2, err := typed(&httpv3.HttpProtocolOptions{
		UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
			ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{Http2ProtocolOptions: &core.Http2ProtocolOptions{
				ConnectionKeepalive: &core.KeepaliveSettings{Interval: durationpb.New(30 * time.Second), Timeout: durationpb.New(10 * time.Second)},
			}},
		}},
	})
	if err != nil {
		return nil, err
	}
	return &clusterv3.Cluster{
		Name:                 XDSClusterName,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: discovery},
		ConnectTimeout:       durationpb.New(time.Second),
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: XDSClusterName,
			Endpoints: []*endpointv3.LocalityLbEndpoints{{
				LbEndpoints: []*endpointv3.LbEndpoint{{
					HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: socketAddress(host, uint32(port))}},
				}},
			}},
		},
		TypedExtensionProtocolOptions: map[string]*anypb.Any{"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": h2},
		TransportSocket: &core.TransportSocket{
			Name:       wellknown.TransportSocketTLS,
			ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: tlsAny},
		},
	}, nil
}
