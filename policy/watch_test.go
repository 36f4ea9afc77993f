package policy

import (
	"fmt"

	"context"
	networking "istio.io/api/networking/v1alpha3"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

const gatewayYAML = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: %d, name: http, protocol: HTTP}
    hosts: ["*"]
`

func gatewayAt(port int) []byte {
	return []byte(fmt.Sprintf(gatewayYAML, port))
}

// writeAtomic writes like an editor or `kubectl cp`: a temp file renamed over the target.
func writeAtomic(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp~"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

type sink struct {
	mu      sync.Mutex
	secrets map[string]map[string][]byte
}

func (s *sink) ReplaceSource(_ string, secrets map[string]map[string][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets = secrets
}

func (s *sink) get(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.secrets[name]["tls.crt"])
}

func startWatcher(t *testing.T, dir string, creds CredentialSink) (*Watcher, <-chan *Snapshot) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := NewWatcher(dir, WatchOptions{Debounce: 20 * time.Millisecond, Poll: -1, Credentials: creds})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := w.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return w, w.Subscribe(ctx)
}

// next waits for the next snapshot, failing after a generous deadline.
func next(t *testing.T, ch <-chan *Snapshot) *Snapshot {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no snapshot published")
		return nil
	}
}

func serverPort(s *Snapshot) uint32 {
	return gatewaySpec(s.List(KindGateway)[0]).GetServers()[0].GetPort().GetNumber()
}

func TestWatcherPublishesChanges(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeAtomic(t, filepath.Join(dir, "gw.yaml"), gatewayAt(8080))
	w, ch := startWatcher(t, dir, nil)

	first := next(t, ch)
	if first.Version != 1 || serverPort(first) != 8080 {
		t.Fatalf("first snapshot: version %d port %d", first.Version, serverPort(first))
	}

	// An atomic rename (how editors save) is seen.
	writeAtomic(t, filepath.Join(dir, "gw.yaml"), gatewayAt(8081))
	second := next(t, ch)
	if second.Version != 2 || serverPort(second) != 8081 {
		t.Fatalf("after rename: version %d port %d", second.Version, serverPort(second))
	}
	if serverPort(first) != 8080 {
		t.Fatal("a published snapshot changed")
	}

	// An invalid change is rejected and the last good snapshot stays in force.
	writeAtomic(t, filepath.Join(dir, "gw.yaml"), []byte("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec: {servers: [{port: {number: nope}}]}\n"))
	deadline := time.Now().Add(10 * time.Second)
	for w.Problems().Errors() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("invalid config was not rejected")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if cur := w.Current(); cur.Version != 2 || serverPort(cur) != 8081 {
		t.Fatalf("last good config lost: version %d", cur.Version)
	}

	// Fixing it publishes again; the first-seen time of the Gateway is kept.
	writeAtomic(t, filepath.Join(dir, "gw.yaml"), gatewayAt(8082))
	third := next(t, ch)
	if third.Version != 3 || serverPort(third) != 8082 {
		t.Fatalf("after fix: version %d port %d", third.Version, serverPort(third))
	}
	if !third.List(KindGateway)[0].FirstSeen.Equal(first.List(KindGateway)[0].FirstSeen) {
		t.Error("first-seen time of an unchanged resource moved")
	}
}

// TestWatcherConfigMapSwap reproduces how the kubelet updates a mounted ConfigMap: files are
// symlinks through ..data, which is itself a symlink swapped atomically to a new directory.
func TestWatcherConfigMapSwap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mount := func(name string, data []byte) {
		ts := filepath.Join(dir, name)
		if err := os.Mkdir(ts, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ts, "gw.yaml"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(name, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	mount("..2024_01_01_00_00_00.1", gatewayAt(8080))
	if err := os.Symlink("..data/gw.yaml", filepath.Join(dir, "gw.yaml")); err != nil {
		t.Fatal(err)
	}
	_, ch := startWatcher(t, dir, nil)
	if s := next(t, ch); serverPort(s) != 8080 || len(s.List(KindGateway)) != 1 {
		t.Fatalf("initial: port %d, %d gateways (the ..-prefixed directories must be skipped)", serverPort(s), len(s.List(KindGateway)))
	}
	mount("..2024_01_01_00_00_01.2", gatewayAt(9090))
	if s := next(t, ch); serverPort(s) != 9090 {
		t.Fatalf("after swap: port %d", serverPort(s))
	}
}

// TestWatcherSecretsOnlyChange: a rotated Secret reaches the credential store without a new
// snapshot, since nothing a component compiles changed.
func TestWatcherSecretsOnlyChange(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret := func(v string) []byte {
		return []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: cert, namespace: istio-system}\nstringData: {tls.crt: " + v + "}\n")
	}
	writeAtomic(t, filepath.Join(dir, "gw.yaml"), gatewayAt(8080))
	writeAtomic(t, filepath.Join(dir, "secret.yaml"), secret("one"))
	creds := &sink{}
	w, ch := startWatcher(t, dir, creds)
	first := next(t, ch)
	if creds.get("istio-system/cert") != "one" || !first.HasCredential("istio-system", "cert") {
		t.Fatal("secret not delivered")
	}
	writeAtomic(t, filepath.Join(dir, "secret.yaml"), secret("two"))
	deadline := time.Now().Add(10 * time.Second)
	for creds.get("istio-system/cert") != "two" {
		if time.Now().After(deadline) {
			t.Fatal("rotated secret not delivered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if w.Current().Version != first.Version {
		t.Errorf("a Secret rotation published snapshot %d", w.Current().Version)
	}
}

func TestSubscribeGetsCurrentAtOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeAtomic(t, filepath.Join(dir, "gw.yaml"), gatewayAt(8080))
	w := NewWatcher(dir, WatchOptions{Poll: -1})
	if !w.Reload() {
		t.Fatal(w.Problems().Err())
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := w.Subscribe(ctx)
	if s := <-ch; s.Version != 1 {
		t.Fatalf("version %d", s.Version)
	}
	cancel()
	for range ch { // closed once ctx is done
	}
}

func gatewaySpec(r *Resource) *networking.Gateway { return r.Spec.(*networking.Gateway) }
