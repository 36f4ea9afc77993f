package policy

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWatcherReloadsOPADir: a change to any file under a Settings.opa dir, here one outside the
// config directory, publishes a snapshot holding the new content, through the watcher's debounce.
func TestWatcherReloadsOPADir(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	cfg, rego := filepath.Join(root, "cfg"), filepath.Join(root, "rego")
	for _, d := range []string{cfg, rego} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	policyV := func(v string) []byte { return []byte("package envoy.authz\n\nversion := \"" + v + "\"\n") }
	writeAtomic(t, filepath.Join(rego, "policy.rego"), policyV("one"))
	writeAtomic(t, filepath.Join(cfg, "settings.yaml"), []byte(opaMesh+settingsHead+"  - provider: opa-ext-authz\n    dir: ../rego\n"))
	w, ch := startWatcher(t, cfg, nil)

	modules := func(s *Snapshot) map[string]string { return s.Settings.OPA[0].DirModules }
	if s := next(t, ch); modules(s)["policy.rego"] != string(policyV("one")) {
		t.Fatalf("first snapshot: %v", modules(s))
	}

	writeAtomic(t, filepath.Join(rego, "policy.rego"), policyV("two"))
	if s := next(t, ch); modules(s)["policy.rego"] != string(policyV("two")) {
		t.Fatalf("after an edit: %v", modules(s))
	}

	// A new subdirectory is watched too: a file written in it later is seen.
	lib := filepath.Join(rego, "lib")
	if err := os.Mkdir(lib, 0o755); err != nil {
		t.Fatal(err)
	}
	writeAtomic(t, filepath.Join(lib, "data.json"), []byte(`{"v": 1}`))
	waitFor(t, w, func(s *Snapshot) bool { return s.Settings.OPA[0].DirData["lib/data.json"] == `{"v": 1}` })
	writeAtomic(t, filepath.Join(lib, "data.json"), []byte(`{"v": 2}`))
	waitFor(t, w, func(s *Snapshot) bool { return s.Settings.OPA[0].DirData["lib/data.json"] == `{"v": 2}` })

	// A dir left with no Rego is rejected; the last good snapshot keeps serving.
	good := w.Current()
	if err := os.Remove(filepath.Join(rego, "policy.rego")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for w.Problems().Errors() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a dir without Rego was not rejected")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if w.Current() != good {
		t.Fatal("the last good snapshot was replaced")
	}
}

// waitFor polls the watcher's current snapshot until ok, failing after a generous deadline.
func waitFor(t *testing.T, w *Watcher, ok func(*Snapshot) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if s := w.Current(); s != nil && ok(s) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the change was not published")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
