package main

import (
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	meshconfig "istio.io/api/mesh/v1alpha1"
	networking "istio.io/api/networking/v1alpha3"

	"github.com/gatehouse-dev/gatehouse/ca/posture"
	"github.com/gatehouse-dev/gatehouse/gateway"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// inboundPort is one --inbound PORT=APPPORT: peers dial Port, the app listens on
// 127.0.0.1:AppPort.
type inboundPort struct{ Port, AppPort uint32 }

// outboundPort is one --outbound HOST:PORT=LOCALPORT: the app sends plaintext to
// 127.0.0.1:LocalPort, the sidecar originates ISTIO_MUTUAL to Host:Port.
type outboundPort struct {
	Host            string
	Port, LocalPort uint32
}

// sidecarSpec is what `gatehouse sidecar` serves, from its flags.
type sidecarSpec struct {
	Namespace string
	Labels    map[string]string
	Inbound   []inboundPort
	Outbound  []outboundPort
}

// Labels telling the sidecar's two gateways apart: the inbound one enforces the workload's
// authorization policies, the outbound one (the app's own requests) none, as an Istio sidecar
// authorizes only inbound traffic.
const (
	sidecarDirectionLabel = "sidecar.gatehouse.dev/direction"
	directionInbound      = "inbound"
	directionOutbound     = "outbound"
)

// directionLabels are the sidecar's labels plus its direction: what its synthesized Gateways
// select, and the labels the gateway of that direction is compiled with.
func (s sidecarSpec) directionLabels(direction string) map[string]string {
	out := map[string]string{sidecarDirectionLabel: direction}
	for k, v := range s.Labels {
		out[k] = v
	}
	return out
}

// inboundHost is the ServiceEntry host standing for the app behind an inbound port, Istio's
// "inbound|<port>||" cluster as a name the config model accepts.
func inboundHost(port uint32) string {
	return "inbound-" + strconv.FormatUint(uint64(port), 10) + ".sidecar.internal"
}

// sidecarSnapshot is the snapshot the sidecar's gateways serve: the user's config (less its
// Gateways, which a sidecar does not serve) with, per inbound port, a Gateway server whose TLS
// follows the port's mode, routed to the app on loopback, and per outbound port a loopback HTTP
// server routed to the destination with ISTIO_MUTUAL. XFCC is SANITIZE_SET, so the app sees the
// mTLS peer's identity and never a client-sent header.
func sidecarSnapshot(user *policy.Snapshot, s sidecarSpec, pol posture.Policy, version uint64) *policy.Snapshot {
	var res []*policy.Resource
	userRules := map[string]bool{}
	for _, r := range user.Resources() {
		switch r.Kind {
		case policy.KindGateway:
			continue
		case policy.KindDestinationRule:
			if dr, ok := r.Spec.(*networking.DestinationRule); ok {
				userRules[policy.FQDN(dr.GetHost(), r.Namespace)] = true
			}
		}
		res = append(res, r)
	}
	for _, in := range s.Inbound {
		res = append(res, inboundResources(s, in, pol.For(in.Port))...)
	}
	for _, out := range s.Outbound {
		res = append(res, outboundResources(s, out, userRules[policy.FQDN(out.Host, s.Namespace)])...)
	}
	mesh := proto.Clone(user.Mesh).(*meshconfig.MeshConfig)
	if mesh.DefaultConfig == nil {
		mesh.DefaultConfig = &meshconfig.ProxyConfig{}
	}
	if mesh.DefaultConfig.GatewayTopology == nil {
		mesh.DefaultConfig.GatewayTopology = &meshconfig.Topology{}
	}
	mesh.DefaultConfig.GatewayTopology.ForwardClientCertDetails = meshconfig.ForwardClientCertDetails_SANITIZE_SET
	return policy.NewSnapshot(version, res, mesh, user.Settings, user.Credentials(), user.Warnings)
}

// inboundResources serve one inbound port in mode: STRICT an ISTIO_MUTUAL HTTPS server,
// PERMISSIVE the same annotated gateway.MTLSModeAnnotation (plaintext HTTP too, other TLS passed
// through to the app), DISABLE a plaintext HTTP server. The app is reached in plaintext (a
// DestinationRule DISABLE keeps any mesh-wide rule from wrapping loopback in TLS).
func inboundResources(s sidecarSpec, in inboundPort, mode posture.Mode) []*policy.Resource {
	name := "sidecar-inbound-" + strconv.FormatUint(uint64(in.Port), 10)
	host := inboundHost(in.Port)
	server := &networking.Server{
		Port:  &networking.Port{Number: in.Port, Name: name, Protocol: "HTTPS"},
		Hosts: []string{"*"},
		Tls:   &networking.ServerTLSSettings{Mode: networking.ServerTLSSettings_ISTIO_MUTUAL},
	}
	gw := resource(policy.KindGateway, s.Namespace, name, &networking.Gateway{
		Selector: s.directionLabels(directionInbound), Servers: []*networking.Server{server},
	})
	switch mode {
	case posture.Disable:
		server.Port.Protocol, server.Tls = "HTTP", nil
	case posture.Permissive:
		gw.Annotations = map[string]string{gateway.MTLSModeAnnotation: string(posture.Permissive)}
	}
	dest := &networking.Destination{Host: host, Port: &networking.PortSelector{Number: in.Port}}
	return []*policy.Resource{
		gw,
		resource(policy.KindServiceEntry, s.Namespace, name, &networking.ServiceEntry{
			Hosts:      []string{host},
			Ports:      []*networking.ServicePort{{Number: in.Port, Name: "http", Protocol: "HTTP", TargetPort: in.AppPort}},
			Location:   networking.ServiceEntry_MESH_INTERNAL,
			Resolution: networking.ServiceEntry_STATIC,
			Endpoints:  []*networking.WorkloadEntry{{Address: "127.0.0.1"}},
			ExportTo:   []string{"."},
		}),
		resource(policy.KindDestinationRule, s.Namespace, name, &networking.DestinationRule{
			Host:          host,
			TrafficPolicy: &networking.TrafficPolicy{Tls: &networking.ClientTLSSettings{Mode: networking.ClientTLSSettings_DISABLE}},
			ExportTo:      []string{"."},
		}),
		resource(policy.KindVirtualService, s.Namespace, name, &networking.VirtualService{
			Hosts:    []string{"*"},
			Gateways: []string{name},
			Http:     []*networking.HTTPRoute{{Route: []*networking.HTTPRouteDestination{{Destination: dest}}}},
			// What a PERMISSIVE port passes through (TLS that is not mesh mTLS) goes to the app too.
			Tcp:      []*networking.TCPRoute{{Route: []*networking.RouteDestination{{Destination: dest}}}},
			ExportTo: []string{"."},
		}),
	}
}

// outboundResources serve one outbound port: a loopback HTTP server routed to Host:Port, with a
// DestinationRule ISTIO_MUTUAL unless the user has one for the host (theirs then decides, as in
// Istio). The host's ServiceEntry in the user's config gives the endpoints and, through their
// serviceAccount, the identities secure naming accepts.
func outboundResources(s sidecarSpec, out outboundPort, userRule bool) []*policy.Resource {
	name := "sidecar-outbound-" + strconv.FormatUint(uint64(out.LocalPort), 10)
	res := []*policy.Resource{
		resource(policy.KindGateway, s.Namespace, name, &networking.Gateway{
			Selector: s.directionLabels(directionOutbound),
			Servers: []*networking.Server{{
				Port:  &networking.Port{Number: out.LocalPort, Name: name, Protocol: "HTTP"},
				Bind:  "127.0.0.1",
				Hosts: []string{"*"},
			}},
		}),
		resource(policy.KindVirtualService, s.Namespace, name, &networking.VirtualService{
			Hosts:    []string{"*"},
			Gateways: []string{name},
			Http: []*networking.HTTPRoute{{Route: []*networking.HTTPRouteDestination{{
				Destination: &networking.Destination{Host: out.Host, Port: &networking.PortSelector{Number: out.Port}},
			}}}},
			ExportTo: []string{"."},
		}),
	}
	if !userRule {
		res = append(res, resource(policy.KindDestinationRule, s.Namespace, name, &networking.DestinationRule{
			Host:          out.Host,
			TrafficPolicy: &networking.TrafficPolicy{Tls: &networking.ClientTLSSettings{Mode: networking.ClientTLSSettings_ISTIO_MUTUAL}},
			ExportTo:      []string{"."},
		}))
	}
	return res
}

func resource(kind policy.Kind, ns, name string, spec proto.Message) *policy.Resource {
	return &policy.Resource{Kind: kind, APIVersion: "networking.istio.io/v1", Namespace: ns, Name: name, Spec: spec,
		Origin: policy.Origin{File: "<gatehouse sidecar>"}}
}

// parseInbound parses --inbound values: PORT=APPPORT, each possibly a comma list.
func parseInbound(values []string) ([]inboundPort, error) {
	var out []inboundPort
	seen := map[uint32]bool{}
	for _, kv := range splitList(values) {
		from, to, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("--inbound %q: not PORT=APPPORT", kv)
		}
		p, err1 := parsePort(from)
		a, err2 := parsePort(to)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("--inbound %q: ports must be 1-65535", kv)
		}
		if seen[p] {
			return nil, fmt.Errorf("--inbound %q: port %d given twice", kv, p)
		}
		seen[p] = true
		out = append(out, inboundPort{Port: p, AppPort: a})
	}
	return out, nil
}

// parseOutbound parses --outbound values: HOST:PORT=LOCALPORT, each possibly a comma list.
func parseOutbound(values []string) ([]outboundPort, error) {
	var out []outboundPort
	seen := map[uint32]bool{}
	for _, kv := range splitList(values) {
		dest, local, ok := strings.Cut(kv, "=")
		i := strings.LastIndexByte(dest, ':')
		if !ok || i <= 0 {
			return nil, fmt.Errorf("--outbound %q: not HOST:PORT=LOCALPORT", kv)
		}
		p, err1 := parsePort(dest[i+1:])
		l, err2 := parsePort(local)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("--outbound %q: ports must be 1-65535", kv)
		}
		if seen[l] {
			return nil, fmt.Errorf("--outbound %q: local port %d given twice", kv, l)
		}
		seen[l] = true
		out = append(out, outboundPort{Host: strings.ToLower(dest[:i]), Port: p, LocalPort: l})
	}
	return out, nil
}

func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}

func parsePort(s string) (uint32, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a port", s)
	}
	return uint32(n), nil
}
