package meshxds

import (
	"slices"
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/gatehouse-dev/gatehouse/ca/posture"
)

// chainShape is what a sidecar (Envoy or `gatehouse sidecar`) reads from one filter chain.
type chainShape struct {
	port      uint32
	transport string
	alpn      bool // matches Istio's ALPNs
	mtls      bool // terminates mesh mTLS
}

func shapes(t *testing.T, l *listenerv3.Listener) []chainShape {
	t.Helper()
	var out []chainShape
	for _, fc := range l.GetFilterChains() {
		m := fc.GetFilterChainMatch()
		s := chainShape{port: m.GetDestinationPort().GetValue(), transport: m.GetTransportProtocol(), alpn: len(m.GetApplicationProtocols()) > 0}
		if ts := fc.GetTransportSocket(); ts != nil {
			var ctx tlsv3.DownstreamTlsContext
			if err := ts.GetTypedConfig().UnmarshalTo(&ctx); err != nil {
				t.Fatal(err)
			}
			sds := ctx.GetCommonTlsContext().GetTlsCertificateSdsSecretConfigs()
			root := ctx.GetCommonTlsContext().GetCombinedValidationContext().GetValidationContextSdsSecretConfig()
			if !ctx.GetRequireClientCertificate().GetValue() || len(sds) != 1 || sds[0].GetName() != "default" ||
				root.GetName() != "ROOTCA" || root.GetSdsConfig().GetAds() == nil || sds[0].GetSdsConfig().GetAds() == nil {
				t.Errorf("chain %s: TLS context is not Istio's inbound mTLS: %v", fc.GetName(), &ctx)
			}
			s.mtls = true
		}
		out = append(out, s)
	}
	return out
}

func TestBuildChainsPerMode(t *testing.T) {
	t.Parallel()
	ports := []InboundPort{{Port: 8080, AppPort: 8080, Name: "http"}, {Port: 9443, AppPort: 9000, Name: "tcp-db"}}
	tests := []struct {
		name string
		pol  posture.Policy
		want []chainShape
	}{
		{"strict", posture.Policy{Default: posture.Strict}, []chainShape{
			{port: 8080, transport: "tls", mtls: true},
			{port: 9443, transport: "tls", mtls: true},
		}},
		{"permissive", posture.Policy{Default: posture.Permissive}, []chainShape{
			{port: 8080, transport: "tls", alpn: true, mtls: true}, {port: 8080, transport: "raw_buffer"}, {port: 8080, transport: "tls"},
			{port: 9443, transport: "tls", alpn: true, mtls: true}, {port: 9443, transport: "raw_buffer"}, {port: 9443, transport: "tls"},
		}},
		{"disable", posture.Policy{Default: posture.Disable}, []chainShape{
			{port: 8080, transport: "raw_buffer"},
			{port: 9443, transport: "raw_buffer"},
		}},
		{"port override by workload port", posture.Policy{Default: posture.Strict, Ports: map[uint32]posture.Mode{9000: posture.Disable, 9443: posture.Permissive}}, []chainShape{
			{port: 8080, transport: "tls", mtls: true},
			{port: 9443, transport: "raw_buffer"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			snap, err := Build(webProxy, ports, tt.pol, "v1")
			if err != nil {
				t.Fatal(err)
			}
			validateSnapshot(t, snap)
			if v := snap.GetVersion(resourcev3.ListenerType); v != "v1" {
				t.Errorf("version %q, want v1", v)
			}
			l := snap.GetResources(resourcev3.ListenerType)[VirtualInboundListenerName].(*listenerv3.Listener)
			if got := shapes(t, l); !slices.Equal(got, tt.want) {
				t.Errorf("chains\n got %+v\nwant %+v", got, tt.want)
			}
			var filters []string
			for _, f := range l.GetListenerFilters() {
				filters = append(filters, f.GetName())
			}
			if !slices.Contains(filters, "envoy.filters.listener.tls_inspector") || !slices.Contains(filters, "envoy.filters.listener.original_dst") {
				t.Errorf("listener filters %v lack original_dst and tls_inspector", filters)
			}
			clusters := snap.GetResources(resourcev3.ClusterType)
			if len(clusters) != 2 || clusters["inbound|8080||"] == nil || clusters["inbound|9443||"] == nil {
				t.Errorf("clusters %v", clusters)
			}
		})
	}
}

func TestBuildRejectsUnknownMode(t *testing.T) {
	t.Parallel()
	_, err := Build(webProxy, []InboundPort{{Port: 8080, AppPort: 8080}}, posture.Policy{Default: "UNSET"}, "1")
	if err == nil || !strings.Contains(err.Error(), "port 8080") || !strings.Contains(err.Error(), webProxy.ID) {
		t.Fatalf("err = %v, want one naming the proxy and port", err)
	}
}

func TestContentSnapshotVersionsEachType(t *testing.T) {
	t.Parallel()
	ports := []InboundPort{{Port: 8080, AppPort: 8080}}
	snapshot := func(m posture.Mode) *cachev3.Snapshot {
		res, err := resources(ports, posture.Policy{Default: m})
		if err != nil {
			t.Fatal(err)
		}
		snap, err := contentSnapshot(res)
		if err != nil {
			t.Fatal(err)
		}
		validateSnapshot(t, snap)
		return snap
	}
	strict, strict2, permissive := snapshot(posture.Strict), snapshot(posture.Strict), snapshot(posture.Permissive)
	if strict.GetVersion(resourcev3.ListenerType) != strict2.GetVersion(resourcev3.ListenerType) {
		t.Error("equal listeners got different versions")
	}
	if strict.GetVersion(resourcev3.ListenerType) == permissive.GetVersion(resourcev3.ListenerType) {
		t.Error("a mode change kept the listener version: no push would follow")
	}
	if strict.GetVersion(resourcev3.ClusterType) != permissive.GetVersion(resourcev3.ClusterType) {
		t.Error("a mode change changed the cluster version: CDS would be pushed for nothing")
	}
}
