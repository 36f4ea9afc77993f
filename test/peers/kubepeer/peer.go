// Package kubepeer starts a real Kubernetes API server on loopback for the tests of the Kubernetes
// source (issue 11): Debian's etcd and a kube-apiserver and kubectl built from the Go module proxy
// at Version by test/peers/kube/build.sh. There is no kubelet, scheduler or controller-manager:
// tests create ServiceAccounts, Pods and EndpointSlices themselves, nothing reconciles them, and a
// deleted namespace stays Terminating. It is a test helper: the Kubernetes code is tested against
// the server users run, not a fake clientset that shares our reading of the API.
package kubepeer

import (
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/test/peers/loopback"
)

// Options configure Start. The zero value is a working API server.
type Options struct {
	// APIServerArgs are extra kube-apiserver flags, after (and so overriding) Start's own, e.g.
	// "--feature-gates=...".
	APIServerArgs []string
}

// Peer is a running etcd and kube-apiserver, stopped when the test that started them ends.
type Peer struct {
	// Server is the API server's URL, https://127.0.0.1:<port>.
	Server string
	// CA trusts the API server's serving certificate; CAPEM and CAFile are the same certificate as
	// PEM and a file of it. It is also the server's --client-ca-file, though no client
	// certificates are made: clients use bearer tokens.
	CA     *x509.CertPool
	CAPEM  []byte
	CAFile string
	// AdminToken is a static bearer token for user "admin" in group system:masters, which RBAC
	// lets do anything.
	AdminToken string
	// Kubeconfig is a kubeconfig file for Server as the admin, for kubectl and client-go.
	Kubeconfig string
	// EtcdURL is the etcd the API server stores in, http on 127.0.0.1.
	EtcdURL string

	dir     string // the installed kube-apiserver and kubectl
	work    string
	apiArgs []string
	apiLog  string

	mu        sync.Mutex
	apiserver *process // the running kube-apiserver; Restart replaces it
}

// ServiceAccountIssuer is the issuer of the service-account tokens the server makes, and the only
// audience it accepts them for as API credentials, as on a kubeadm cluster. A token for istio-ca
// is refused as a credential; it is only valid where a TokenReview names istio-ca in
// spec.audiences, as istiod's and Gatehouse's CA do.
const ServiceAccountIssuer = "https://kubernetes.default.svc.cluster.local"

// Installed returns the directory holding kube-apiserver and kubectl at Version, as build.sh laid
// it out, or why the peer cannot run (that or etcd missing).
func Installed() (string, error) {
	dir, err := buildDir()
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
		return "", fmt.Errorf("kube-apiserver %s is not installed in %s: run `make test`, which installs the test peers", Version, dir)
	}
	if _, err := etcdBinary(); err != nil {
		return "", err
	}
	return dir, nil
}

// buildDir is $(go env GOPATH)/gatehouse-peers/kube-<Version>, the first GOPATH entry as in
// build.sh. It asks the go command, as the script does, so that a GOPATH set with `go env -w`
// counts.
func buildDir() (string, error) {
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return "", fmt.Errorf("kube-apiserver: go env GOPATH: %w", err)
	}
	gopath, _, _ := strings.Cut(strings.TrimSpace(string(out)), string(os.PathListSeparator))
	if gopath == "" {
		return "", fmt.Errorf("kube-apiserver: go env GOPATH is empty")
	}
	return filepath.Join(gopath, "gatehouse-peers", "kube-"+Version), nil
}

func etcdBinary() (string, error) {
	if bin, err := exec.LookPath("etcd"); err == nil {
		return bin, nil
	}
	if _, err := os.Stat("/usr/bin/etcd"); err == nil {
		return "/usr/bin/etcd", nil
	}
	return "", fmt.Errorf("etcd is not installed (Debian's etcd-server): run `make test`, which installs the test peers")
}

// SkipIfMissing skips the test when the peer is not installed; end-to-end tests fail instead
// (Start does), since `make test` installs it.
func SkipIfMissing(t testing.TB) {
	t.Helper()
	if _, err := Installed(); err != nil {
		t.Skipf("skipping: %v", err)
	}
}

// Start starts etcd and kube-apiserver on free loopback ports with fresh data and credentials,
// and returns once the API server is ready and its default namespace exists. Their logs are
// printed when the test fails.
func Start(t testing.TB, o Options) *Peer {
	t.Helper()
	dir, err := Installed()
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	p := &Peer{
		dir:    dir,
		work:   work,
		apiLog: filepath.Join(work, "kube-apiserver.log"),
	}
	etcdLog := filepath.Join(work, "etcd.log")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("etcd output (last lines):\n%s\nkube-apiserver output (last lines):\n%s",
				tail(etcdLog, 40), tail(p.apiLog, 80))
		}
	})

	etcd := startEtcd(t, work, etcdLog)
	p.EtcdURL = etcd.url

	port := loopback.FreePort(t)
	p.Server = "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	creds, err := writeCredentials(work)
	if err != nil {
		t.Fatal(err)
	}
	p.CA, p.CAPEM, p.CAFile, p.AdminToken = creds.ca, creds.caPEM, creds.caFile, creds.adminToken
	if p.Kubeconfig, err = writeKubeconfig(work, p); err != nil {
		t.Fatal(err)
	}
	p.apiArgs = append(apiserverArgs(port, p.EtcdURL, creds), o.APIServerArgs...)

	t.Cleanup(p.stopAPIServer) // before etcd's own cleanup runs, as cleanups run last first
	p.startAPIServer(t)
	return p
}

// Restart stops kube-apiserver (SIGTERM, as a rolling update would) and starts it again on the
// same port with the same etcd, credentials and flags, returning once it is ready again. Clients
// see their connections and watches end and must resync.
func (p *Peer) Restart(t testing.TB) {
	t.Helper()
	p.stopAPIServer()
	p.startAPIServer(t)
}

func (p *Peer) startAPIServer(t testing.TB) {
	t.Helper()
	proc, err := startProcess("kube-apiserver", filepath.Join(p.dir, "kube-apiserver"), p.apiLog, p.apiArgs...)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.apiserver = proc
	p.mu.Unlock()
	p.waitReady(t, proc)
}

func (p *Peer) stopAPIServer() {
	p.mu.Lock()
	proc := p.apiserver
	p.apiserver = nil
	p.mu.Unlock()
	if proc != nil {
		proc.stop()
	}
}

// APIServerOutput is what kube-apiserver logged so far, over all its runs.
func (p *Peer) APIServerOutput() string { return readLog(p.apiLog) }
