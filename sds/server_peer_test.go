package sds

import (
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
)

func TestCheckRemote(t *testing.T) {
	t.Parallel()
	web := &RemotePeer{Namespace: "apps", ServiceAccount: "web"}
	node := func(id string, meta map[string]any) *core.Node {
		s, err := structpb.NewStruct(meta)
		if err != nil {
			t.Fatal(err)
		}
		return &core.Node{Id: id, Metadata: s}
	}
	own := node("sidecar~127.0.0.1~web-1.apps~apps.svc.cluster.local", map[string]any{"NAMESPACE": "apps", "SERVICE_ACCOUNT": "web"})
	for _, tt := range []struct {
		name    string
		node    *core.Node
		typeURL string
		names   []string
		ok      bool
	}{
		{"own listeners", own, resourcev3.ListenerType, nil, true},
		{"own namespace's secret and the bundle", own, resourcev3.SecretType, []string{"kubernetes://web-cert", "ROOTCA"}, true},
		{"the server's own certificate", own, resourcev3.SecretType, []string{"default"}, false},
		{"the server's files", own, resourcev3.SecretType, []string{"file-cert:/etc/certs/cert.pem~/etc/certs/key.pem"}, false},
		{"another namespace in metadata", node("sidecar~127.0.0.1~web-1.apps~apps.svc.cluster.local", map[string]any{"NAMESPACE": "prod"}), resourcev3.ListenerType, nil, false},
		{"another namespace in the node id", node("sidecar~127.0.0.1~web-1.prod~prod.svc.cluster.local", map[string]any{"NAMESPACE": "apps"}), resourcev3.ListenerType, nil, false},
		{"another service account", node("sidecar~127.0.0.1~web-1.apps~apps.svc.cluster.local", map[string]any{"NAMESPACE": "apps", "SERVICE_ACCOUNT": "db"}), resourcev3.ClusterType, nil, false},
		{"no namespace at all", node("gatehouse", map[string]any{}), resourcev3.ListenerType, nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := checkRemote(web, tt.node, tt.typeURL, tt.names)
			if (err == nil) != tt.ok {
				t.Fatalf("checkRemote = %v, want ok %v", err, tt.ok)
			}
			if err != nil && status.Code(err) != codes.PermissionDenied {
				t.Errorf("code %v, want PermissionDenied", status.Code(err))
			}
		})
	}
}
