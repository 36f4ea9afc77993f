package e2e

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretservice "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"
)

// TestSDSPushesRotation subscribes to the built binary's SDS as an Envoy in istio-system would,
// with go-control-plane's generated client, and sees a Secret rotation pushed to it.
func TestSDSPushesRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	serverCA := newCA(t, "server-ca")
	old := serverCA.issue(t, leafOpts{dns: []string{"a.example.com"}, serial: 0x51})
	writeFile(t, dir, "secret.yaml", secretYAML("a-cert", "tls", old.cert, old.key, serverCA.pem))
	g := run(t, dir, 443)

	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", g.xds), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	stream, err := secretservice.NewSecretDiscoveryServiceClient(conn).StreamSecrets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := &core.Node{Id: "router~127.0.0.1~ingress.istio-system~istio-system.svc.cluster.local",
		Metadata: &structpb.Struct{Fields: map[string]*structpb.Value{"NAMESPACE": structpb.NewStringValue("istio-system")}}}
	names := []string{"kubernetes://a-cert", "kubernetes://a-cert-cacert"}
	if err := stream.Send(&discovery.DiscoveryRequest{Node: node, TypeUrl: resourcev3.SecretType, ResourceNames: names}); err != nil {
		t.Fatal(err)
	}

	// receive reads responses (ACKing each) until the serving certificate has the wanted serial.
	receive := func(serial string) {
		t.Helper()
		for {
			resp, err := stream.Recv()
			if err != nil {
				t.Fatalf("waiting for serial %s: %v", serial, err)
			}
			got := ""
			for _, any := range resp.GetResources() {
				s := &tlsv3.Secret{}
				if err := any.UnmarshalTo(s); err != nil {
					t.Fatal(err)
				}
				if err := s.ValidateAll(); err != nil {
					t.Fatalf("secret %s fails ValidateAll: %v", s.GetName(), err)
				}
				if chain := s.GetTlsCertificate().GetCertificateChain().GetInlineBytes(); chain != nil {
					b, _ := pem.Decode(chain)
					cert, err := x509.ParseCertificate(b.Bytes)
					if err != nil {
						t.Fatal(err)
					}
					got = cert.SerialNumber.Text(16)
				}
			}
			if err := stream.Send(&discovery.DiscoveryRequest{Node: node, TypeUrl: resourcev3.SecretType, ResourceNames: names,
				VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce()}); err != nil {
				t.Fatal(err)
			}
			if got == serial {
				return
			}
		}
	}
	receive("51")
	next := serverCA.issue(t, leafOpts{dns: []string{"a.example.com"}, serial: 0x52})
	writeFile(t, dir, "secret.yaml", secretYAML("a-cert", "tls", next.cert, next.key, serverCA.pem))
	receive("52")
}
