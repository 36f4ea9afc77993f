package meshxds

import (
	"reflect"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
)

func TestInboundPorts(t *testing.T) {
	t.Parallel()
	cfg := loadSnapshot(t, "testdata/permissive.in.yaml")
	tests := []struct {
		name  string
		proxy Proxy
		want  []InboundPort
	}{
		{"selected by labels", webProxy, []InboundPort{
			{Port: 8080, AppPort: 8080, Name: "http", Protocol: "HTTP"},
			{Port: 9443, AppPort: 9000, Name: "tcp-db", Protocol: "TCP"},
		}},
		{"other labels", Proxy{ID: "x", Namespace: "apps", Labels: map[string]string{"app": "other"}}, []InboundPort{
			{Port: 7000, AppPort: 7000, Name: "tcp", Protocol: "TCP"},
		}},
		{"same labels, other namespace", Proxy{ID: "x", Namespace: "shop", Labels: webProxy.Labels}, nil},
		{"no labels", Proxy{ID: "x", Namespace: "apps"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := InboundPorts(cfg, tt.proxy); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestInboundPortsOldestServiceEntryWins(t *testing.T) {
	t.Parallel()
	cfg, ps := policy.ParseSnapshot(map[string][]byte{"se.yaml": []byte(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: b-newer, namespace: apps, creationTimestamp: "2024-02-01T00:00:00Z"}
spec:
  hosts: [b.apps.svc.cluster.local]
  resolution: STATIC
  workloadSelector: {labels: {app: web}}
  ports: [{number: 8080, name: http, protocol: HTTP, targetPort: 9999}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: a-older, namespace: apps, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  hosts: [a.apps.svc.cluster.local]
  resolution: STATIC
  workloadSelector: {labels: {app: web}}
  ports: [{number: 8080, name: http, protocol: HTTP, targetPort: 8081}]
`)})
	if cfg == nil {
		t.Fatal(ps)
	}
	want := []InboundPort{{Port: 8080, AppPort: 8081, Name: "http", Protocol: "HTTP"}}
	if got := InboundPorts(cfg, webProxy); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if InboundPorts(nil, webProxy) != nil {
		t.Error("nil snapshot gave ports")
	}
}
