package sds

import (
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

func TestNodeNamespace(t *testing.T) {
	t.Parallel()
	meta := func(ns string) *structpb.Struct {
		return &structpb.Struct{Fields: map[string]*structpb.Value{"NAMESPACE": structpb.NewStringValue(ns)}}
	}
	tests := []struct {
		name string
		node *core.Node
		want string
	}{
		{"metadata wins over the id", &core.Node{Id: "router~1.2.3.4~gw.a~a.svc.cluster.local", Metadata: meta("b")}, "b"},
		{"istio router id", &core.Node{Id: "router~10.0.0.7~istio-ingressgateway-5d4f.istio-system~istio-system.svc.cluster.local"}, "istio-system"},
		{"istio sidecar id", &core.Node{Id: "sidecar~10.0.0.8~reviews-v1-abc.bookinfo~bookinfo.svc.cluster.local"}, "bookinfo"},
		{"domain part empty: the pod part", &core.Node{Id: "sidecar~10.0.0.8~reviews-v1-abc.bookinfo~"}, "bookinfo"},
		{"empty metadata value", &core.Node{Id: "plain", Metadata: meta("")}, "fallback"},
		{"plain id", &core.Node{Id: "gatehouse"}, "fallback"},
		{"three parts", &core.Node{Id: "a~b~c.d"}, "fallback"},
		{"no node", nil, "fallback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := NodeNamespace(tt.node, "fallback"); got != tt.want {
				t.Errorf("NodeNamespace = %q, want %q", got, tt.want)
			}
		})
	}
}
