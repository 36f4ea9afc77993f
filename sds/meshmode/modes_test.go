package meshmode

import (
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/gatehouse-dev/gatehouse/ca/meshxds"
	"github.com/gatehouse-dev/gatehouse/ca/posture"
)

var testProxy = meshxds.Proxy{ID: "sidecar~127.0.0.1~app.apps~apps.svc.cluster.local", Namespace: "apps", ServiceAccount: "app", IP: "127.0.0.1"}

var testPorts = []meshxds.InboundPort{{Port: 8443, AppPort: 8080, Name: "http", Protocol: "HTTP"}, {Port: 9443, AppPort: 9090, Name: "tcp", Protocol: "TCP"}}

// inbound builds the virtualInbound listener the xDS server sends for pol.
func inbound(t *testing.T, pol posture.Policy) *listenerv3.Listener {
	t.Helper()
	snap, err := meshxds.Build(testProxy, testPorts, pol, "1")
	if err != nil {
		t.Fatalf("meshxds.Build: %v", err)
	}
	for _, r := range snap.GetResources(resourcev3.ListenerType) {
		if l, ok := r.(*listenerv3.Listener); ok && l.GetName() == VirtualInbound {
			return l
		}
	}
	t.Fatal("no virtualInbound listener")
	return nil
}

// TestFromListener: the mode read back from the listener meshxds builds is the mode it was
// built for, per port peers dial (portLevelMtls names the app's port, 9090 for 9443).
func TestFromListener(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		pol  posture.Policy
		want map[uint32]posture.Mode
	}{
		{"strict", posture.Policy{Default: posture.Strict}, map[uint32]posture.Mode{8443: posture.Strict, 9443: posture.Strict}},
		{"permissive", posture.Policy{Default: posture.Permissive}, map[uint32]posture.Mode{8443: posture.Permissive, 9443: posture.Permissive}},
		{"disable", posture.Policy{Default: posture.Disable}, map[uint32]posture.Mode{8443: posture.Disable, 9443: posture.Disable}},
		{"port override", posture.Policy{Default: posture.Strict, Ports: map[uint32]posture.Mode{9090: posture.Permissive}},
			map[uint32]posture.Mode{8443: posture.Strict, 9443: posture.Permissive}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := FromListener(inbound(t, tc.pol))
			for port, want := range tc.want {
				if m := got.For(port); m != want {
					t.Errorf("port %d: %s, want %s (read %+v)", port, m, want, got)
				}
			}
		})
	}
}

// TestFromListenerWithoutChains: a listener that says nothing about a port leaves it at
// PERMISSIVE, Istio's default.
func TestFromListenerWithoutChains(t *testing.T) {
	t.Parallel()
	if m := FromListener(inbound(t, posture.Policy{Default: posture.Strict})).For(1234); m != posture.Permissive {
		t.Fatalf("got %s, want PERMISSIVE", m)
	}
}

// TestFromResources: the virtualInbound listener is found among others; a resource that is not
// a Listener is an error (the client NACKs it); a response without virtualInbound says nothing.
func TestFromResources(t *testing.T) {
	t.Parallel()
	l, err := anypb.New(inbound(t, posture.Policy{Default: posture.Strict}))
	if err != nil {
		t.Fatal(err)
	}
	other, err := anypb.New(&listenerv3.Listener{Name: "virtualOutbound"})
	if err != nil {
		t.Fatal(err)
	}
	notListener, err := anypb.New(&clusterv3.Cluster{Name: "inbound|8443||"})
	if err != nil {
		t.Fatal(err)
	}
	if pol, ok, err := FromResources([]*anypb.Any{other, l}); err != nil || !ok || pol.For(8443) != posture.Strict {
		t.Errorf("with virtualInbound: %+v %v %v, want STRICT", pol, ok, err)
	}
	if _, ok, err := FromResources([]*anypb.Any{other}); err != nil || ok {
		t.Errorf("without virtualInbound: ok=%v err=%v, want neither", ok, err)
	}
	if _, _, err := FromResources([]*anypb.Any{notListener}); err == nil {
		t.Error("a Cluster read as a Listener")
	}
}
