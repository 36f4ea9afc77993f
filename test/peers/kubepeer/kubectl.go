package kubepeer

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// writeKubeconfig writes a kubeconfig for p.Server as the admin, whose current context is it.
func writeKubeconfig(work string, p *Peer) (string, error) {
	file := filepath.Join(work, "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: kubepeer
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: admin
  user:
    token: %s
contexts:
- name: kubepeer
  context:
    cluster: kubepeer
    user: admin
current-context: kubepeer
`, p.Server, base64.StdEncoding.EncodeToString(p.CAPEM), p.AdminToken)
	return file, os.WriteFile(file, []byte(cfg), 0o600)
}

// Kubectl runs the kubectl built with the API server, as the admin, and returns what it printed
// on stdout. The error carries its stderr, so that a refusal reads as kubectl said it.
func (p *Peer) Kubectl(t testing.TB, args ...string) (string, error) {
	t.Helper()
	return p.KubectlInput(t, "", args...)
}

// KubectlInput is Kubectl with stdin, for `kubectl apply -f -` of YAML a test writes.
func (p *Peer) KubectlInput(t testing.TB, stdin string, args ...string) (string, error) {
	t.Helper()
	// The discovery cache goes to the test's directory, not the user's ~/.kube.
	full := append([]string{"--kubeconfig=" + p.Kubeconfig, "--cache-dir=" + filepath.Join(p.work, "kubectl-cache")}, args...)
	cmd := exec.CommandContext(t.Context(), filepath.Join(p.dir, "kubectl"), full...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+p.Kubeconfig)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
