// Package redispeer starts a real redis-server (Debian's, installed by test/peers/install.sh)
// for tests of the code that shares state through Redis. It is a test helper.
package redispeer

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/test/peers/loopback"
)

// Start runs redis-server on a free loopback port, without persistence, until the test ends,
// and returns its address once it answers PING. It skips the test when redis-server is not
// installed.
func Start(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("skipping: redis-server is not installed: run `make test`, which installs the test peers")
	}
	port := strconv.Itoa(loopback.FreePort(t))
	addr := net.JoinHostPort("127.0.0.1", port)

	out := &syncBuffer{}
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no",
		"--dir", t.TempDir(), "--daemonize", "no")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("redis-server output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		reply, err := Ping(addr)
		if err == nil && reply == "+PONG" {
			return addr
		}
		select {
		case <-exited:
			t.Fatalf("redis-server exited before answering on %s:\n%s", addr, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not answer PING in time (last: %q, %v)", addr, reply, err)
		}
		time.Sleep(50 * time.Millisecond) // polling a process we cannot subscribe to
	}
}

// Ping sends an inline PING to the Redis at addr and returns the reply line ("+PONG").
func Ping(addr string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprint(conn, "PING\r\n"); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err
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
