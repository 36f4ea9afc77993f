package meshxds

import (
	"reflect"
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

func node(t *testing.T, id string, meta map[string]any) *core.Node {
	t.Helper()
	s, err := structpb.NewStruct(meta)
	if err != nil {
		t.Fatal(err)
	}
	return &core.Node{Id: id, Metadata: s}
}

func TestProxyFromNode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		id      string
		meta    map[string]any
		want    Proxy
		wantErr bool
	}{
		{
			name: "istio-agent node",
			id:   "sidecar~10.0.0.7~web-1.apps~apps.svc.cluster.local",
			meta: map[string]any{"NAMESPACE": "apps", "SERVICE_ACCOUNT": "web", "LABELS": map[string]any{"app": "web", "version": "v1"}},
			want: Proxy{ID: "sidecar~10.0.0.7~web-1.apps~apps.svc.cluster.local", Namespace: "apps", ServiceAccount: "web",
				Labels: map[string]string{"app": "web", "version": "v1"}, IP: "10.0.0.7"},
		},
		{
			name: "namespace from the id alone",
			id:   "sidecar~10.0.0.7~web-1.apps~apps.svc.cluster.local",
			want: Proxy{ID: "sidecar~10.0.0.7~web-1.apps~apps.svc.cluster.local", Namespace: "apps", IP: "10.0.0.7"},
		},
		{
			name: "metadata namespace wins over the id",
			id:   "sidecar~10.0.0.7~web-1.apps~apps.svc.cluster.local",
			meta: map[string]any{"NAMESPACE": "shop"},
			want: Proxy{ID: "sidecar~10.0.0.7~web-1.apps~apps.svc.cluster.local", Namespace: "shop", IP: "10.0.0.7"},
		},
		{
			name: "non-Istio id with metadata",
			id:   "web-1",
			meta: map[string]any{"NAMESPACE": "apps", "INSTANCE_IPS": "10.0.0.8,fd00::8"},
			want: Proxy{ID: "web-1", Namespace: "apps", IP: "10.0.0.8"},
		},
		{name: "gateway node", id: "router~10.0.0.1~gw-1.istio-system~istio-system.svc.cluster.local", wantErr: true},
		{name: "no namespace anywhere", id: "web-1", wantErr: true},
		{name: "empty id", id: "", meta: map[string]any{"NAMESPACE": "apps"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ProxyFromNode(node(t, tt.id, tt.meta))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
	if _, err := ProxyFromNode(nil); err == nil {
		t.Error("nil node accepted")
	}
}
