package meshxds

import (
	"bytes"
	"os"
	"reflect"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

var webBootstrap = BootstrapOptions{
	Namespace: "apps", ServiceAccount: "web", Labels: map[string]string{"app": "web"},
	PodName: "web-1", IP: "127.0.0.1", XDSAddress: "gatehouse.istio-system:15012", CertDir: "/etc/certs",
}

func TestBootstrapGolden(t *testing.T) {
	t.Parallel()
	b, err := Bootstrap(webBootstrap)
	if err != nil {
		t.Fatal(err)
	}
	got := mustJSON(t, b)
	golden := "testdata/bootstrap.golden.json"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs; rerun with -update and review.\ngot:\n%s", golden, got)
	}
}

// The node a bootstrap announces must read back as the same workload on the server side.
func TestBootstrapNodeIsTheProxy(t *testing.T) {
	t.Parallel()
	b, err := Bootstrap(webBootstrap)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ProxyFromNode(b.GetNode())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, webProxy) {
		t.Errorf("node reads back as %+v, want %+v", p, webProxy)
	}
}

func TestBootstrapXDSCluster(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr    string
		typ     clusterv3.Cluster_DiscoveryType
		sni     string
		wantErr bool
	}{
		{addr: "gatehouse.istio-system:15012", typ: clusterv3.Cluster_STRICT_DNS, sni: "gatehouse.istio-system"},
		{addr: "10.0.0.9:15012", typ: clusterv3.Cluster_STATIC},
		{addr: "[fd00::9]:15012", typ: clusterv3.Cluster_STATIC},
		{addr: "gatehouse", wantErr: true},
		{addr: ":15012", wantErr: true},
		{addr: "gatehouse:0", wantErr: true},
		{addr: "gatehouse:99999", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			t.Parallel()
			o := webBootstrap
			o.XDSAddress = tt.addr
			b, err := Bootstrap(o)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			c := b.GetStaticResources().GetClusters()
			if len(c) != 1 || c[0].GetName() != XDSClusterName || c[0].GetType() != tt.typ {
				t.Fatalf("static clusters %v", c)
			}
			var ctx tlsv3.UpstreamTlsContext
			if err := c[0].GetTransportSocket().GetTypedConfig().UnmarshalTo(&ctx); err != nil {
				t.Fatal(err)
			}
			if ctx.GetSni() != tt.sni {
				t.Errorf("sni %q, want %q", ctx.GetSni(), tt.sni)
			}
		})
	}
}

func TestBootstrapRejects(t *testing.T) {
	t.Parallel()
	for name, edit := range map[string]func(*BootstrapOptions){
		"no namespace":       func(o *BootstrapOptions) { o.Namespace = "" },
		"no service account": func(o *BootstrapOptions) { o.ServiceAccount = "" },
		"no pod name":        func(o *BootstrapOptions) { o.PodName = "" },
		"no cert dir":        func(o *BootstrapOptions) { o.CertDir = "" },
		"bad ip":             func(o *BootstrapOptions) { o.IP = "web" },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := webBootstrap
			edit(&o)
			if _, err := Bootstrap(o); err == nil {
				t.Error("accepted")
			}
		})
	}
}
