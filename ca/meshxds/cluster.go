package meshxds

import (
	"fmt"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/types/known/durationpb"
)

// blackHoleCluster is istiod's cluster with no endpoints: traffic sent there is dropped.
const blackHoleCluster = "BlackHoleCluster"

// connectTimeout is MeshConfig connectTimeout's default.
const connectTimeout = 10 * time.Second

// inboundClusterName is istiod's inbound cluster key, "inbound|<port>||".
func inboundClusterName(port uint32) string { return fmt.Sprintf("inbound|%d||", port) }

// inboundCluster sends a port's traffic to the app on loopback. istiod today uses ORIGINAL_DST
// because its app listens on the very port peers dial; here the app may listen elsewhere
// (ServiceEntry targetPort), so the endpoint is explicit and the cluster STATIC, as istiod's
// inbound clusters were before 1.10.
func inboundCluster(p InboundPort) *clusterv3.Cluster {
	name := inboundClusterName(p.Port)
	return &clusterv3.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
		ConnectTimeout:       durationpb.New(connectTimeout),
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: name,
			Endpoints: []*endpointv3.LocalityLbEndpoints{{
				LbEndpoints: []*endpointv3.LbEndpoint{{
					HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
						Address: socketAddress("127.0.0.1", p.AppPort),
					}},
				}},
			}},
		},
	}
}

// blackHole is istiod's BlackHoleCluster: STATIC with no endpoints.
func blackHole() *clusterv3.Cluster {
	return &clusterv3.Cluster{
		Name:                 blackHoleCluster,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC},
		ConnectTimeout:       durationpb.New(connectTimeout),
	}
}

func socketAddress(host string, port uint32) *core.Address {
	return &core.Address{Address: &core.Address_SocketAddress{SocketAddress: &core.SocketAddress{
		Address:       host,
		PortSpecifier: &core.SocketAddress_PortValue{PortValue: port},
	}}}
}
