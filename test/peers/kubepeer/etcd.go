package kubepeer

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/test/peers/loopback"
)

type etcdServer struct {
	url string
}

// startEtcd runs a single-member etcd on free loopback ports with its data in work, until the
// test ends, and returns once it reports itself healthy.
func startEtcd(t testing.TB, work, logFile string) etcdServer {
	t.Helper()
	bin, err := etcdBinary()
	if err != nil {
		t.Fatal(err)
	}
	client := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(loopback.FreePort(t)))
	peer := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(loopback.FreePort(t)))
	// The peer URL is only bound, never dialled: it is a cluster of one. Etcd's default data dir
	// and URLs (localhost:2379/2380) would clash with any other etcd on the machine.
	proc, err := startProcess("etcd", bin, logFile,
		"--name", "kubepeer",
		"--data-dir", filepath.Join(work, "etcd"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "kubepeer="+peer, "--initial-cluster-state", "new",
		"--logger", "zap", "--log-level", "warn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proc.stop)

	deadline := time.Now().Add(30 * time.Second)
	for {
		err := etcdHealthy(client)
		if err == nil {
			return etcdServer{url: client}
		}
		select {
		case <-proc.exited:
			t.Fatalf("etcd exited before becoming healthy on %s:\n%s", client, readLog(logFile))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd on %s did not become healthy in time: %v", client, err)
		}
		time.Sleep(50 * time.Millisecond) // polling a process we cannot subscribe to
	}
}

func etcdHealthy(url string) error {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url + "/health")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"true"`) {
		return fmt.Errorf("GET %s/health: %s %s", url, resp.Status, body)
	}
	return nil
}
