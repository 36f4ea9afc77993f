package sds

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitDeadline bounds every wait for state; it is a failure bound, not an expected duration.
const waitDeadline = 5 * time.Second

// lockedBuffer collects log output written from the source's goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type fileFixture struct {
	store *Store
	src   *FileSource
	logs  *lockedBuffer
}

// newFileFixture returns a source whose changes can only arrive through events: polling is off,
// so a passing test proves the watch saw the change.
func newFileFixture(t *testing.T) *fileFixture {
	t.Helper()
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	store := NewStore(StoreOptions{Logger: log})
	src := NewFileSource(store, FileSourceOptions{Logger: log, Debounce: 20 * time.Millisecond, Poll: -1})
	return &fileFixture{store: store, src: src, logs: logs}
}

// run starts the watch and returns once it covers dirs.
func (fx *fileFixture) run(t *testing.T, dirs ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fx.src.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	poll(t, "watching "+strings.Join(dirs, ", "), func() bool {
		fx.src.mu.Lock()
		defer fx.src.mu.Unlock()
		for _, d := range dirs {
			if !slices.Contains(fx.src.watching, d) {
				return false
			}
		}
		return true
	})
}

// serial returns the serial of the credential in force under name, "" when there is none.
func (fx *fileFixture) serial(name string) string {
	c, ok := fx.store.Get(name)
	if !ok {
		return ""
	}
	return c.Serial()
}

// waitSerial waits on the Store's change notifications until name serves serial.
func (fx *fileFixture) waitSerial(t *testing.T, name, serial string) {
	t.Helper()
	deadline := time.After(waitDeadline)
	for {
		_, changed := fx.store.Version()
		if got := fx.serial(name); got == serial {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("%s serves serial %q, want %q; rejected: %v", name, fx.serial(name), serial, fx.store.Rejected(name))
		}
	}
}

// poll checks a condition that has no change notification until it holds.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitDeadline)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// renameOver writes like an editor or `kubectl cp`: a temporary file renamed over the target.
func renameOver(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".swp")
	writeFile(t, tmp, data)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func pairFiles(dir string) FileCredential {
	cert, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	return FileCredential{StoreName: FileCertName(cert, key), Cert: cert, Key: key}
}

func TestFileSourceInitialLoad(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "root")
	dir := t.TempDir()
	pair := pairFiles(dir)
	cert, key := ca.validLeaf(t, "files.example.com", 7)
	writeFile(t, pair.Cert, cert)
	writeFile(t, pair.Key, key)
	crl := ca.crl(t, 99)
	root := FileCredential{StoreName: FileRootName(filepath.Join(dir, "ca.pem")), CA: filepath.Join(dir, "ca.pem"), CRL: filepath.Join(dir, "ca.crl")}
	writeFile(t, root.CA, ca.pem)
	writeFile(t, root.CRL, crl)

	fx := newFileFixture(t)
	fx.src.Want([]FileCredential{pair, root})
	// Want loads synchronously: no Run, no waiting.
	if got := fx.serial(pair.StoreName); got != "7" {
		t.Fatalf("serial %q after Want", got)
	}
	r, ok := fx.store.Get(root.StoreName)
	if !ok || r.Roots == nil || r.CRL == nil || r.Certificate != nil {
		t.Fatalf("file-root credential %+v, ok %v", r, ok)
	}
	if c, ok := fx.store.Resolve("istio-system", "file-cert:"+pair.Cert+"~"+pair.Key); !ok || c.Serial() != "7" {
		t.Fatal("the Istio resource name does not resolve to the file credential")
	}

	// A credential no longer wanted leaves the Store.
	fx.src.Want([]FileCredential{root})
	if _, ok := fx.store.Get(pair.StoreName); ok {
		t.Fatal("an unwanted credential is still in the Store")
	}
}

func TestFileSourceRotation(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "root")
	tests := []struct {
		name string
		// layout prepares dir with the first pair and returns the paths the Gateway names and a
		// function that replaces their content the way that layout does.
		layout func(t *testing.T, dir string, cert, key []byte) (FileCredential, func(cert, key []byte))
	}{
		{name: "rewrite in place", layout: func(t *testing.T, dir string, cert, key []byte) (FileCredential, func(cert, key []byte)) {
			p := pairFiles(dir)
			writeFile(t, p.Cert, cert)
			writeFile(t, p.Key, key)
			return p, func(cert, key []byte) { writeFile(t, p.Key, key); writeFile(t, p.Cert, cert) }
		}},
		{name: "atomic rename", layout: func(t *testing.T, dir string, cert, key []byte) (FileCredential, func(cert, key []byte)) {
			p := pairFiles(dir)
			writeFile(t, p.Cert, cert)
			writeFile(t, p.Key, key)
			return p, func(cert, key []byte) { renameOver(t, p.Key, key); renameOver(t, p.Cert, cert) }
		}},
		{name: "kubelet ..data symlink swap", layout: kubeletLayout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			c1, k1 := ca.validLeaf(t, "files.example.com", 1)
			c2, k2 := ca.validLeaf(t, "files.example.com", 2)
			pair, rotate := tt.layout(t, dir, c1, k1)
			fx := newFileFixture(t)
			fx.src.Want([]FileCredential{pair})
			if got := fx.serial(pair.StoreName); got != "1" {
				t.Fatalf("serial %q after Want", got)
			}
			fx.run(t, dir)
			rotate(c2, k2)
			fx.waitSerial(t, pair.StoreName, "2")
		})
	}
}

// kubeletLayout mounts files the way kubelet projects a Secret: the named files are symlinks
// through "..data" to a timestamped directory, and an update swaps "..data" atomically.
func kubeletLayout(t *testing.T, dir string, cert, key []byte) (FileCredential, func(cert, key []byte)) {
	t.Helper()
	generation := 0
	project := func(cert, key []byte) {
		generation++
		ts := filepath.Join(dir, "..gen"+string(rune('0'+generation)))
		if err := os.Mkdir(ts, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(ts, "tls.crt"), cert)
		writeFile(t, filepath.Join(ts, "tls.key"), key)
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
		if generation > 1 {
			old := filepath.Join(dir, "..gen"+string(rune('0'+generation-1)))
			if err := os.RemoveAll(old); err != nil {
				t.Fatal(err)
			}
		}
	}
	project(cert, key)
	for _, f := range []string{"tls.crt", "tls.key"} {
		if err := os.Symlink(filepath.Join("..data", f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	return pairFiles(dir), project
}

// A certificate written before its key must never put a bad credential in force: the half-new
// pair is rejected, the old one keeps serving, and the key's arrival completes the new pair.
func TestFileSourceCertBeforeKey(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "root")
	dir := t.TempDir()
	pair := pairFiles(dir)
	c1, k1 := ca.validLeaf(t, "files.example.com", 1)
	c2, k2 := ca.validLeaf(t, "files.example.com", 2)
	writeFile(t, pair.Cert, c1)
	writeFile(t, pair.Key, k1)
	fx := newFileFixture(t)
	fx.src.Want([]FileCredential{pair})
	fx.run(t, dir)

	writeFile(t, pair.Cert, c2)
	poll(t, "the new certificate with the old key to be rejected", func() bool {
		err := fx.store.Rejected(pair.StoreName)
		return err != nil && strings.Contains(err.Error(), "does not match")
	})
	if got := fx.serial(pair.StoreName); got != "1" {
		t.Fatalf("serial %q while the key is old, want the last good 1", got)
	}

	writeFile(t, pair.Key, k2)
	fx.waitSerial(t, pair.StoreName, "2")
	if err := fx.store.Rejected(pair.StoreName); err != nil {
		t.Fatalf("still rejected after the pair completed: %v", err)
	}
}

func TestFileSourceMissingFiles(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "root")
	tests := []struct {
		name string
		// sub is where the files live below the temp dir; it does not exist at first.
		sub string
	}{
		{name: "file created later"},
		{name: "directory created later", sub: "certs/live"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base := t.TempDir()
			dir := filepath.Join(base, tt.sub)
			pair := pairFiles(dir)
			fx := newFileFixture(t)
			fx.src.Want([]FileCredential{pair})
			if _, ok := fx.store.Get(pair.StoreName); ok {
				t.Fatal("a credential without files is in the Store")
			}
			logs := fx.logs.String()
			if !strings.Contains(logs, pair.Cert) || !strings.Contains(logs, "no such file or directory") {
				t.Fatalf("the log does not say which file is missing and why:\n%s", logs)
			}
			fx.run(t, base)

			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			c, k := ca.validLeaf(t, "files.example.com", 5)
			writeFile(t, pair.Key, k)
			writeFile(t, pair.Cert, c)
			fx.waitSerial(t, pair.StoreName, "5")
			poll(t, "the recovery to be logged", func() bool { return strings.Contains(fx.logs.String(), "readable again") })
		})
	}
}

// A file that disappears (mid-rename, or removed by mistake) leaves the last good credential in
// force, and its return with new content rotates it.
func TestFileSourceFileRemoved(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "root")
	dir := t.TempDir()
	pair := pairFiles(dir)
	c1, k1 := ca.validLeaf(t, "files.example.com", 1)
	writeFile(t, pair.Cert, c1)
	writeFile(t, pair.Key, k1)
	fx := newFileFixture(t)
	fx.src.Want([]FileCredential{pair})
	fx.run(t, dir)

	if err := os.Remove(pair.Key); err != nil {
		t.Fatal(err)
	}
	poll(t, "the missing key to be logged", func() bool {
		return strings.Contains(fx.logs.String(), "last good content keeps serving")
	})
	if got := fx.serial(pair.StoreName); got != "1" {
		t.Fatalf("serial %q after the key vanished, want the last good 1", got)
	}

	c2, k2 := ca.validLeaf(t, "files.example.com", 2)
	writeFile(t, pair.Cert, c2)
	writeFile(t, pair.Key, k2)
	fx.waitSerial(t, pair.StoreName, "2")
	if logs := fx.logs.String(); strings.Contains(logs, "PRIVATE KEY") {
		t.Fatalf("key material in the log:\n%s", logs)
	}
}

func TestWatchDirs(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	real := filepath.Join(base, "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(real, "ca.pem"), []byte("x"))
	if err := os.Symlink(filepath.Join(real, "ca.pem"), filepath.Join(base, "ca.pem")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		paths []string
		want  []string
	}{
		{name: "plain file", paths: []string{filepath.Join(real, "ca.pem")}, want: []string{real}},
		{name: "symlink: its directory and its target's", paths: []string{filepath.Join(base, "ca.pem")}, want: []string{base, real}},
		{name: "missing directory: nearest existing ancestor", paths: []string{filepath.Join(base, "a/b/c.pem")}, want: []string{base}},
		{name: "deduplicated", paths: []string{filepath.Join(real, "x.pem"), filepath.Join(real, "y.pem")}, want: []string{real}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := watchDirs(tt.paths); !slices.Equal(got, tt.want) {
				t.Errorf("watchDirs = %q, want %q", got, tt.want)
			}
		})
	}
}

// crl issues a CRL revoking one serial, PEM encoded.
func (ca *testCA) crl(t *testing.T, revoked int64) []byte {
	t.Helper()
	issuer := *ca.cert
	// The test CA is only marked for certificate signing; the CRL's signature is not what
	// these tests check.
	issuer.KeyUsage |= x509.KeyUsageCRLSign
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(time.Hour),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: big.NewInt(revoked), RevocationTime: time.Now().Add(-time.Minute)}},
	}, &issuer, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

func TestReadCredentialFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	large := filepath.Join(dir, "large.pem")
	fh, err := os.Create(large)
	if err != nil {
		t.Fatal(err)
	}
	if err := fh.Truncate(maxCredentialFile + 1); err != nil { // sparse: cheap to create
		t.Fatal(err)
	}
	fh.Close()
	ok := filepath.Join(dir, "ok.pem")
	writeFile(t, ok, []byte("pem"))
	tests := []struct {
		path string
		err  string
	}{
		{path: ok},
		{path: filepath.Join(dir, "missing.pem"), err: "no such file or directory"},
		{path: dir, err: "not a regular file"},
		{path: large, err: "larger than 4 MiB"},
	}
	for _, tt := range tests {
		b, err := readCredentialFile(tt.path)
		switch {
		case tt.err == "" && (err != nil || string(b) != "pem"):
			t.Errorf("%s: %q, %v", tt.path, b, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), tt.path)):
			t.Errorf("%s: error %v, want %q naming the path", tt.path, err, tt.err)
		}
	}
}
