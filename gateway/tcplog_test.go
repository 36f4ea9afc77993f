package gateway

import (
	"net"
	"path/filepath"
	"testing"
	"time"
)

// TestTCPAccessLog checks the line a plain TCP connection logs when it ends: bytes both ways
// and the upstream for one that was proxied, UF for one whose upstream refused it, and no
// server name for either.
func TestTCPAccessLog(t *testing.T) {
	t.Parallel()
	echoPort := echoServer(t)
	file := filepath.Join(t.TempDir(), "access.log")
	vs := func(port, host string) string {
		return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ` + host + `, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  tcp:
  - match: [{port: ` + port + `}]
    route: [{destination: {host: ` + host + `.internal, port: {number: 443}}}]
`
	}
	g := startTLSGateway(t, newSecrets(), snapshot(t, 1,
		tlsGatewayDoc(`  - port: {number: 5432, name: tcp, protocol: TCP}
    hosts: ["*"]
  - port: {number: 5433, name: tcp-dead, protocol: TCP}
    hosts: ["*"]
`),
		accessLogMesh(file, "JSON"),
		tcpEntry("echo", "echo.internal", "TCP", echoPort),
		tcpEntry("dead", "dead.internal", "TCP", deadPort(t)),
		vs("5432", "echo"), vs("5433", "dead"),
	), 5432, 5433)

	conn, err := net.Dial("tcp", g.addr(t, 5432))
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Read(make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close()
	dead, err := net.Dial("tcp", g.addr(t, 5433))
	if err != nil {
		t.Fatal(err)
	}
	_ = dead.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = dead.Read(make([]byte, 1))
	_ = dead.Close()

	var lines map[string]l4Line
	eventually(t, "two access log lines", func() bool {
		lines = readL4LinesBy(t, file, func(l l4Line) string { return l.Cluster })
		return len(lines) == 2
	})
	ok := lines["outbound|443||echo.internal"]
	if ok.Flags != "-" || ok.Received != 4 || ok.Sent != 4 || ok.UpstreamHost == nil || ok.SNI != "" || ok.Method != nil {
		t.Errorf("proxied connection logged %+v, want 4 bytes each way, its upstream, no SNI or method", ok)
	}
	if l := lines["outbound|443||dead.internal"]; l.Flags != "UF" || l.UpstreamHost != nil {
		t.Errorf("refused connection logged %+v, want UF and no upstream host", l)
	}
}
