package kubepeer

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// apiserverArgs are the kube-apiserver flags for a server alone on loopback, without a kubelet or
// controller-manager behind it.
func apiserverArgs(port int, etcdURL string, c *credentials) []string {
	return []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		// Without it the server advertises the host's first non-loopback address in the
		// kubernetes Service's endpoints; with it, that address is loopback, which the endpoints
		// reconciler refuses, so it is off (nothing here routes to the kubernetes Service).
		"--advertise-address=127.0.0.1",
		"--endpoint-reconciler-type=none",
		"--tls-cert-file=" + c.certFile,
		"--tls-private-key-file=" + c.keyFile,
		"--client-ca-file=" + c.caFile,
		"--token-auth-file=" + c.tokenFile,
		"--authorization-mode=RBAC",
		"--service-account-issuer=" + ServiceAccountIssuer,
		"--service-account-key-file=" + c.saPubFile,
		"--service-account-signing-key-file=" + c.saKeyFile,
		"--api-audiences=" + ServiceAccountIssuer,
		"--service-cluster-ip-range=10.96.0.0/12",
		"--allow-privileged=true",
		// The ServiceAccount admission plugin refuses Pods whose service account does not exist,
		// and the "default" one is made by the controller-manager, which is not here; tests name
		// the service accounts they create instead.
		"--disable-admission-plugins=ServiceAccount",
		// Self-signed certificates for anything not given would go to /var/run/kubernetes.
		"--cert-dir=" + c.dir,
		"--profiling=false",
	}
}

// startupTimeout bounds how long the API server may take to get ready: on a busy 2-core machine
// its post-start hooks (RBAC bootstrap roles, priority classes, ...) take several seconds.
const startupTimeout = 90 * time.Second

// waitReady polls /readyz and the default namespace (created by the server's own system
// namespaces controller, which /readyz does not wait for) until both answer, failing the test if
// the process exits first.
func (p *Peer) waitReady(t testing.TB, proc *process) {
	t.Helper()
	client := p.httpClient()
	deadline := time.Now().Add(startupTimeout)
	for {
		err := p.get(client, "/readyz")
		if err == nil {
			err = p.get(client, "/api/v1/namespaces/default")
		}
		if err == nil {
			return
		}
		select {
		case <-proc.exited:
			t.Fatalf("kube-apiserver exited before getting ready on %s:\n%s", p.Server, tail(p.apiLog, 80))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("kube-apiserver on %s did not get ready in %v: %v", p.Server, startupTimeout, err)
		}
		time.Sleep(100 * time.Millisecond) // polling a process we cannot subscribe to
	}
}

func (p *Peer) httpClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.CA}}}
}

func (p *Peer) get(client *http.Client, path string) error {
	req, err := http.NewRequest(http.MethodGet, p.Server+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+p.AdminToken)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, body)
	}
	return nil
}
