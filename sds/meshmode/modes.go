package meshmode

import (
	"fmt"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/gatehouse-dev/gatehouse/ca/posture"
)

// VirtualInbound is the inbound listener istiod builds for a sidecar, whose filter chains say
// how each inbound port is served.
const VirtualInbound = "virtualInbound"

// Transport protocols Envoy's tls_inspector sets, which Istio's inbound chains match.
const (
	transportTLS = "tls"
	transportRaw = "raw_buffer"
)

// chainKinds is what a port's chains accept: TLS terminated with a transport socket (mesh mTLS),
// and plaintext. TLS matched without a transport socket is PERMISSIVE's passthrough of
// non-mesh TLS, which says nothing the other two do not.
type chainKinds struct{ mtls, raw bool }

func (k chainKinds) mode() (posture.Mode, bool) {
	switch {
	case k.mtls && k.raw:
		return posture.Permissive, true
	case k.mtls:
		return posture.Strict, true
	case k.raw:
		return posture.Disable, true
	}
	return "", false
}

// FromListener reads the modes of a virtualInbound listener: per destination port, chains that
// terminate TLS and raw_buffer chains → PERMISSIVE, only terminating TLS → STRICT, only plaintext →
// DISABLE. Chains without a destination port (a catch-all, or the blackhole of a workload with no
// declared port) say nothing about a port: ports without chains of their own are PERMISSIVE,
// Istio's default, in Default.
func FromListener(l *listenerv3.Listener) posture.Policy {
	ports := map[uint32]chainKinds{}
	for _, fc := range l.GetFilterChains() {
		m := fc.GetFilterChainMatch()
		p := m.GetDestinationPort()
		if p == nil {
			continue
		}
		k := ports[p.GetValue()]
		switch m.GetTransportProtocol() {
		case transportTLS:
			k.mtls = k.mtls || fc.GetTransportSocket() != nil
		case transportRaw, "":
			k.raw = true
		}
		ports[p.GetValue()] = k
	}
	pol := posture.Policy{Default: posture.Permissive, Ports: map[uint32]posture.Mode{}}
	for port, k := range ports {
		if m, ok := k.mode(); ok {
			pol.Ports[port] = m
		}
	}
	return pol
}

// FromResources finds the virtualInbound listener among an LDS response's resources and reads
// its modes; ok=false when the response has no such listener.
func FromResources(resources []*anypb.Any) (pol posture.Policy, ok bool, err error) {
	for i, r := range resources {
		l := &listenerv3.Listener{}
		if err := r.UnmarshalTo(l); err != nil {
			return posture.Policy{}, false, fmt.Errorf("resources[%d]: not a Listener: %w", i, err)
		}
		if l.GetName() == VirtualInbound {
			return FromListener(l), true, nil
		}
	}
	return posture.Policy{}, false, nil
}
