package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
)

// protocolsConfig routes grpc.example.com to a ServiceEntry port of protocol GRPC (so the gateway
// speaks h2c upstream, decided by the port and never guessed) and ws.example.com to an HTTP port.
func protocolsConfig(backend int) string {
	return docs(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [grpc.example.com, ws.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: grpc, namespace: istio-system}
spec:
  hosts: [grpc.example.com]
  gateways: [edge]
  http:
  - route:
    - destination: {host: backend-grpc.internal}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ws, namespace: istio-system}
spec:
  hosts: [ws.example.com]
  gateways: [edge]
  http:
  - route:
    - destination: {host: backend.internal}
`,
		staticEntry("backend-grpc", "istio-system", "backend-grpc.internal", 9000, "GRPC", backend),
		staticEntry("backend", "istio-system", "backend.internal", 80, "HTTP", backend))
}

// TestProtocolsThroughGateway: a grpc-go unary call and health check, a WebSocket echo and curl
// over HTTP/2 (h2c prior knowledge) all pass through the gateway to the demo backend.
func TestProtocolsThroughGateway(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "config.yaml", protocolsConfig(backend(t, "v3")))
	g := run(t, dir, 80)
	addr := fmt.Sprintf("127.0.0.1:%d", g.http)

	t.Run("gRPC unary and health with grpc-go", func(t *testing.T) {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithAuthority("grpc.example.com"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		var header metadata.MD
		resp, err := testgrpc.NewTestServiceClient(conn).UnaryCall(t.Context(),
			&testgrpc.SimpleRequest{Payload: &testgrpc.Payload{Body: []byte("through the gateway")}}, grpc.Header(&header))
		if err != nil {
			t.Fatal(err)
		}
		if string(resp.GetPayload().GetBody()) != "through the gateway" || strings.Join(header.Get("x-backend-name"), "") != "v3" {
			t.Errorf("payload %q, backend %v", resp.GetPayload().GetBody(), header.Get("x-backend-name"))
		}
		health, err := healthgrpc.NewHealthClient(conn).Check(t.Context(), &healthgrpc.HealthCheckRequest{})
		if err != nil || health.GetStatus() != healthgrpc.HealthCheckResponse_SERVING {
			t.Errorf("health %v, %v", health.GetStatus(), err)
		}
	})
	t.Run("WebSocket echo", func(t *testing.T) {
		ws, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", http.Header{"Host": {"ws.example.com"}})
		if err != nil {
			t.Fatalf("dial: %v (response %v)", err, resp)
		}
		t.Cleanup(func() { ws.Close() })
		var hello struct{ Backend string }
		if err := ws.ReadJSON(&hello); err != nil || hello.Backend != "v3" {
			t.Fatalf("hello %+v, %v", hello, err)
		}
		if err := ws.WriteMessage(websocket.TextMessage, []byte("ping")); err != nil {
			t.Fatal(err)
		}
		if _, msg, err := ws.ReadMessage(); err != nil || string(msg) != "ping" {
			t.Fatalf("echo %q, %v", msg, err)
		}
	})
	t.Run("curl over HTTP/2", func(t *testing.T) {
		out, err := exec.CommandContext(t.Context(), "curl", "-sS", "--http2-prior-knowledge", "-H", "Host: ws.example.com",
			"-w", "\n%{http_code} %{http_version}", "http://"+addr+"/headers").Output()
		if err != nil {
			t.Fatal(err)
		}
		s := strings.TrimSpace(string(out))
		i := strings.LastIndexByte(s, '\n')
		body, status := s[:i+1], s[i+1:]
		if status != "200 2" {
			t.Fatalf("status and HTTP version %q", status)
		}
		var e struct{ Backend string }
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Backend != "v3" {
			t.Errorf("backend %q: %v", e.Backend, err)
		}
	})
}
