// Package e2e drives the built gatehouse binary with real clients (curl, openssl s_client) and
// real peers, as a user would.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/test/peers/loopback"
)

// bin is the gatehouse binary under test, built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatehouse-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "gatehouse")
	build := exec.Command("go", "build", "-race", "-o", bin, "../../cmd/gatehouse")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building gatehouse:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort returns a loopback port that was free a moment ago and that no other test got.
func freePort(t *testing.T) int {
	t.Helper()
	return loopback.FreePort(t)
}

// process is a started gatehouse subcommand whose output is kept for failure messages.
type process struct {
	cmd *exec.Cmd
	out *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs the binary with args until the test ends.
func start(t *testing.T, args ...string) *process {
	t.Helper()
	return startIn(t, nil, args...)
}

// startIn is start with the binary run by a command prefix (see withHosts).
func startIn(t *testing.T, prefix []string, args ...string) *process {
	t.Helper()
	argv := append(append(slices.Clone(prefix), bin), args...)
	p := &process{cmd: exec.Command(argv[0], argv[1:]...), out: &syncBuffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("gatehouse %s output:\n%s", strings.Join(args, " "), p.out.String())
		}
	})
	return p
}

// waitHTTP polls url until it answers want, or fails the test.
func waitHTTP(t *testing.T, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer %d in time", url, want)
}

// curl runs the real curl and returns its stdout; -w adds the status code on the last line.
func curl(t *testing.T, args ...string) (body string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args = append([]string{"-sS", "-w", "\n%{http_code}"}, args...)
	out, err := exec.CommandContext(ctx, "curl", args...).Output()
	if err != nil {
		t.Fatalf("curl %v: %v", args, err)
	}
	s := string(out)
	i := strings.LastIndexByte(s, '\n')
	fmt.Sscanf(s[i+1:], "%d", &code)
	return s[:i], code
}

// backend starts a demo backend and returns its port.
func backend(t *testing.T, name string) int {
	t.Helper()
	port := freePort(t)
	start(t, "demo-backend", "--name", name, "--listen", fmt.Sprintf("127.0.0.1:%d", port))
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/healthz", port), 200)
	return port
}

// gatehouse is a running `gatehouse run` with its ports.
type gatehouse struct {
	*process
	config                                     string
	http, status, stats, admin, xds, authz, ca int
	// ports maps each Gateway server port given to run to the port it listens on.
	ports map[int]int
}

// run starts `gatehouse run` on dir with the Gateway server port `serverPort` mapped to a free
// port, and waits until it is ready.
func run(t *testing.T, dir string, serverPort int, extra ...string) *gatehouse {
	t.Helper()
	return runPorts(t, dir, []int{serverPort}, extra...)
}

// runPorts is run with several Gateway server ports, each mapped to a free port; the first is
// g.http.
func runPorts(t *testing.T, dir string, serverPorts []int, extra ...string) *gatehouse {
	t.Helper()
	return runPortsIn(t, nil, dir, serverPorts, extra...)
}

// runPortsIn is runPorts with the binary run by a command prefix (see withHosts).
func runPortsIn(t *testing.T, prefix []string, dir string, serverPorts []int, extra ...string) *gatehouse {
	t.Helper()
	g := &gatehouse{config: dir, status: freePort(t), stats: freePort(t), admin: freePort(t), xds: freePort(t), authz: freePort(t), ca: freePort(t), ports: map[int]int{}}
	var mapping []string
	for _, p := range serverPorts {
		g.ports[p] = freePort(t)
		mapping = append(mapping, fmt.Sprintf("%d=%d", p, g.ports[p]))
	}
	g.http = g.ports[serverPorts[0]]
	args := append([]string{"run", "--config", dir, "--data", t.TempDir(), "--bind", "127.0.0.1",
		"--port-map", strings.Join(mapping, ","),
		"--status-port", fmt.Sprint(g.status), "--stats-port", fmt.Sprint(g.stats), "--admin-port", fmt.Sprint(g.admin),
		"--xds-listen", fmt.Sprintf("127.0.0.1:%d", g.xds),
		"--authz-listen", fmt.Sprintf("127.0.0.1:%d", g.authz), "--authz-http-listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"--ca-listen", fmt.Sprintf("127.0.0.1:%d", g.ca)}, extra...)
	g.process = startIn(t, prefix, args...)
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/healthz/ready", g.status), 200)
	return g
}

func (g *gatehouse) url(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", g.http, path)
}

// stop sends SIGTERM and waits for the exit status.
func (g *gatehouse) stop() error {
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	return g.cmd.Wait()
}

// writeFile writes data to dir/name atomically, as an editor saves.
func writeFile(t *testing.T, dir, name, data string) {
	t.Helper()
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// withHosts returns a command prefix that runs the binary in a mount namespace of its own whose
// /etc/hosts maps each name to an address, so the gateway resolves real names through the system
// resolver as it would in production. It skips the test where unshare(1) may not create mount
// namespaces (it needs root or user namespaces).
func withHosts(t *testing.T, names map[string]string) []string {
	t.Helper()
	if err := exec.Command("unshare", "-m", "true").Run(); err != nil {
		t.Skipf("unshare -m is not permitted here (%v): a private /etc/hosts is needed to resolve test names", err)
	}
	var b strings.Builder
	b.WriteString("127.0.0.1 localhost\n")
	for name, addr := range names {
		fmt.Fprintf(&b, "%s %s\n", addr, name)
	}
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"unshare", "-m", "sh", "-c", `mount --bind "$0" /etc/hosts && exec "$@"`, hosts}
}

// staticEntry is a ServiceEntry for host with one port, resolved STATIC to the loopback endpoint
// where a test's backend listens on targetPort. The port is named after its protocol in lower
// case, as Istio's port naming convention (<protocol>[-<suffix>]) has it.
func staticEntry(name, namespace, host string, number int, protocol string, targetPort int) string {
	return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: %s, namespace: %s}
spec:
  hosts: [%s]
  ports: [{number: %d, name: %s, protocol: %s, targetPort: %d}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
`, name, namespace, host, number, strings.ToLower(protocol), protocol, targetPort)
}

// docs joins YAML documents, each ending in a newline, into one multi-document file.
func docs(documents ...string) string {
	return strings.Join(documents, "---\n")
}
