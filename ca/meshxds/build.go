package meshxds

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-dev/gatehouse/ca/posture"
)

// Build is a proxy's complete, Consistent() snapshot: one inbound Listener "virtualInbound" on 0.0.0.0:15006 with
// tls_inspector and, per port, Istio's filter chains for its mode (STRICT: only TLS chains requiring a client cert
// validated against SDS "ROOTCA", serving SDS "default"; PERMISSIVE adds raw_buffer chains and a chain passing
// non-Istio TLS through; DISABLE only raw), tcp_proxy to cluster "inbound|<port>||" → 127.0.0.1:<AppPort>; the SDS
// config source is ADS. Every resource passes ValidateAll(). version is the snapshot version string.
//
// The Secrets the chains name ("default", "ROOTCA") are not in the snapshot: the sds package
// serves them on the same stream, from the Store, per proxy namespace.
func Build(p Proxy, ports []InboundPort, pol posture.Policy, version string) (*cachev3.Snapshot, error) {
	res, err := resources(ports, pol)
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", p.ID, err)
	}
	snap, err := cachev3.NewSnapshot(version, res)
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", p.ID, err)
	}
	if err := snap.Consistent(); err != nil {
		return nil, fmt.Errorf("proxy %s: snapshot: %w", p.ID, err)
	}
	return snap, nil
}

// resources are the Listeners and Clusters of Build, each validated.
func resources(ports []InboundPort, pol posture.Policy) (map[resourcev3.Type][]types.Resource, error) {
	l, err := virtualInbound(ports, pol)
	if err != nil {
		return nil, fmt.Errorf("listener %s: %w", VirtualInboundListenerName, err)
	}
	if err := l.ValidateAll(); err != nil {
		return nil, fmt.Errorf("listener %s: %w", l.GetName(), err)
	}
	var clusters []types.Resource
	for _, p := range ports {
		clusters = append(clusters, inboundCluster(p))
	}
	if len(ports) == 0 {
		clusters = append(clusters, blackHole()) // the blackhole chain's cluster
	}
	for _, c := range clusters {
		if err := c.(interface{ ValidateAll() error }).ValidateAll(); err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
	}
	return map[resourcev3.Type][]types.Resource{
		resourcev3.ListenerType: {l},
		resourcev3.ClusterType:  clusters,
	}, nil
}

// contentSnapshot versions each type by its resources' bytes, so a policy change that leaves a
// proxy's Listeners (or Clusters) as they were pushes nothing of that type: a mode flip sends
// the Listener alone.
func contentSnapshot(res map[resourcev3.Type][]types.Resource) (*cachev3.Snapshot, error) {
	snap := &cachev3.Snapshot{}
	for typ, items := range res {
		v, err := contentVersion(items)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", typ, err)
		}
		snap.Resources[cachev3.GetResponseType(typ)] = cachev3.NewResources(v, items)
	}
	return snap, nil
}

// contentVersion is a short hash of resources in their order.
func contentVersion(items []types.Resource) (string, error) {
	h := sha256.New()
	for _, r := range items {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(r)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%d\n", len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
