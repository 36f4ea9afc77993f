// Package helmpeer runs Helm for the chart tests (test/helm): the cmd/helm of the release
// Version pins, built from the Go module proxy by test/peers/helm/build.sh, which install.sh
// calls. A helm found on PATH is never used, so that golden files do not drift with whatever
// release happens to be installed.
package helmpeer

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/test/peers/peerdir"
)

// Installed returns the path of the helm binary at Version, as build.sh laid it out, or why it
// cannot be used.
func Installed() (string, error) {
	cache, err := peerdir.Cache()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "helm-"+Version)
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
		return "", fmt.Errorf("helm %s is not installed in %s: run `make peers` (or test/peers/helm/build.sh)", Version, dir)
	}
	return filepath.Join(dir, "helm"), nil
}

// SkipIfMissing skips the test when helm is not installed.
func SkipIfMissing(t testing.TB) {
	t.Helper()
	if _, err := Installed(); err != nil {
		t.Skipf("skipping: %v", err)
	}
}

// Run runs helm with args and returns its standard output. Helm's cache, config and data
// directories are under home, and no kubeconfig is set, so the user's repositories, plugins and
// clusters play no part; `helm template` and `helm lint` need none of them. The error carries
// helm's standard error.
func Run(ctx context.Context, home string, args ...string) ([]byte, error) {
	bin, err := Installed()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(environWithout("HELM_", "KUBECONFIG="),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
		"KUBECONFIG="+filepath.Join(home, "no-kubeconfig"),
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// environWithout is the process environment without the variables whose "NAME=" starts with
// one of prefixes.
func environWithout(prefixes ...string) []string {
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, p := range prefixes {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		env = append(env, kv)
	}
	return env
}
