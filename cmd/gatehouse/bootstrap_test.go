package main

import (
	"bytes"
	"path/filepath"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gatehouse-dev/gatehouse/ca/meshxds"
)

func TestBootstrapCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := newBootstrapCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--namespace", "apps", "--service-account", "web", "--labels", "app=web,version=v1",
		"--pod-name", "web-1", "--xds-address", "gatehouse.istio-system:15012", "--cert-dir", dir})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	// What Envoy reads: the printed JSON parses back into a valid Bootstrap.
	var b bootstrapv3.Bootstrap
	if err := protojson.Unmarshal(out.Bytes(), &b); err != nil {
		t.Fatalf("output does not parse as a Bootstrap: %v\n%s", err, out.String())
	}
	if err := b.ValidateAll(); err != nil {
		t.Fatalf("ValidateAll: %v", err)
	}
	p, err := meshxds.ProxyFromNode(b.GetNode())
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "sidecar~127.0.0.1~web-1.apps~apps.svc.cluster.local" || p.Namespace != "apps" || p.ServiceAccount != "web" ||
		p.Labels["app"] != "web" || p.Labels["version"] != "v1" {
		t.Errorf("node reads back as %+v", p)
	}
	if b.GetAdmin().GetAddress().GetSocketAddress().GetAddress() != "127.0.0.1" {
		t.Errorf("admin not on loopback: %v", b.GetAdmin())
	}
	clusters := b.GetStaticResources().GetClusters()
	if len(clusters) != 1 || clusters[0].GetName() != meshxds.XDSClusterName {
		t.Fatalf("static clusters %v, want only %s", clusters, meshxds.XDSClusterName)
	}
	var ctx tlsv3.UpstreamTlsContext
	if err := clusters[0].GetTransportSocket().GetTypedConfig().UnmarshalTo(&ctx); err != nil {
		t.Fatal(err)
	}
	cert := ctx.GetCommonTlsContext().GetTlsCertificates()
	if len(cert) != 1 || cert[0].GetCertificateChain().GetFilename() != filepath.Join(dir, "cert-chain.pem") ||
		cert[0].GetPrivateKey().GetFilename() != filepath.Join(dir, "key.pem") ||
		ctx.GetCommonTlsContext().GetValidationContext().GetTrustedCa().GetFilename() != filepath.Join(dir, "root-cert.pem") {
		t.Errorf("xds TLS does not use the cert dir's files: %v", &ctx)
	}
	if ads := b.GetDynamicResources().GetAdsConfig(); ads.GetGrpcServices()[0].GetEnvoyGrpc().GetClusterName() != meshxds.XDSClusterName {
		t.Errorf("ADS goes to %v", ads)
	}
}

func TestBootstrapCommandRejectsBadLabels(t *testing.T) {
	t.Parallel()
	cmd := newBootstrapCmd()
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetArgs([]string{"--labels", "app", "--pod-name", "web-1"})
	if err := cmd.Execute(); err == nil {
		t.Fatal("accepted --labels app")
	}
}
