package sds

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretservice "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/anypb"
)

// xdsLog is a log sink the server goroutines and the test share.
type xdsLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *xdsLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *xdsLog) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), substr)
}

// xdsFixture is a Server on real gRPC over loopback (or a Unix socket) with its own Store.
type xdsFixture struct {
	store *Store
	srv   *Server // the latest started
	addr  string
	reg   *prometheus.Registry
	log   *xdsLog
}

func newXDSFixture(t *testing.T) *xdsFixture {
	t.Helper()
	fx := &xdsFixture{store: NewStore(StoreOptions{}), reg: prometheus.NewRegistry(), log: &xdsLog{}}
	_, stop := fx.serve(t, "127.0.0.1:0", fx.reg)
	t.Cleanup(stop)
	return fx
}

// serve starts a server over fx.store on addr, sets fx.addr to where it listens, and returns
// that address and a func that stops the server (and ends its streams).
func (fx *xdsFixture) serve(t *testing.T, addr string, reg prometheus.Registerer) (string, func()) {
	t.Helper()
	ln, err := Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(addr, "unix:") {
		fx.addr = addr
	} else {
		fx.addr = ln.Addr().String()
	}
	logger := slog.New(slog.NewTextHandler(fx.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := NewServer(fx.store, ServerOptions{Logger: logger, Registerer: reg})
	fx.srv = srv
	g := grpc.NewServer()
	srv.Register(g)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = g.Serve(ln) }()
	go func() { defer close(done); _ = srv.Run(ctx) }()
	var once sync.Once
	return fx.addr, func() {
		once.Do(func() {
			cancel()
			<-done
			g.Stop()
		})
	}
}

// watches counts the open state-of-the-world and delta watches of the latest server.
func (fx *xdsFixture) watches() int {
	c := fx.srv.secrets
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sotw) + len(c.delta)
}

// envoy is a raw client on go-control-plane's generated SDS stubs, as Envoy would use them.
func envoy(t *testing.T, addr string) secretservice.SecretDiscoveryServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return secretservice.NewSecretDiscoveryServiceClient(conn)
}

// testCtx bounds a test's streams so a missing push fails the test instead of hanging it.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// gatewayNode is how Istio's ingress gateway identifies itself.
func gatewayNode(ns string) *core.Node {
	return &core.Node{Id: "router~10.0.0.7~istio-ingressgateway-5d4f.x~" + ns + ".svc.cluster.local"}
}

// secretsOf unpacks a response, checking each resource as a proxy would.
func secretsOf(t *testing.T, resources []*anypb.Any) map[string]*tlsv3.Secret {
	t.Helper()
	out := map[string]*tlsv3.Secret{}
	for _, a := range resources {
		s := &tlsv3.Secret{}
		if err := a.UnmarshalTo(s); err != nil {
			t.Fatal(err)
		}
		if err := s.ValidateAll(); err != nil {
			t.Fatalf("secret %s: ValidateAll: %v", s.GetName(), err)
		}
		out[s.GetName()] = s
	}
	return out
}

func deltaSecretsOf(t *testing.T, resp *discovery.DeltaDiscoveryResponse) map[string]*tlsv3.Secret {
	t.Helper()
	var anys []*anypb.Any
	for _, r := range resp.GetResources() {
		if r.GetVersion() == "" {
			t.Errorf("delta resource %s has no version", r.GetName())
		}
		anys = append(anys, r.GetResource())
	}
	return secretsOf(t, anys)
}

// leafSerial is the serial (hex) of the first certificate of a TlsCertificate Secret.
func leafSerial(t *testing.T, s *tlsv3.Secret) string {
	t.Helper()
	b, _ := pem.Decode(s.GetTlsCertificate().GetCertificateChain().GetInlineBytes())
	if b == nil {
		t.Fatalf("secret %s: no certificate chain", s.GetName())
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber.Text(16)
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
