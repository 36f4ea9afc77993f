package acmecert

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/acme/autocert"
)

// fakeClockCache is a DirCache whose lock clock the test moves.
func fakeClockCache(t *testing.T) (*dirCache, *time.Time) {
	t.Helper()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewDirCache(t.TempDir()).(*dirCache)
	c.now = func() time.Time { return now }
	return c, &now
}

func TestLockExclusive(t *testing.T) {
	t.Parallel()
	c, _ := fakeClockCache(t)
	release, ok, err := c.Lock(t.Context(), "cert+x", time.Minute)
	if err != nil || !ok {
		t.Fatalf("first Lock = %v, %v; want ok", ok, err)
	}
	if _, ok, err := c.Lock(t.Context(), "cert+x", time.Minute); err != nil || ok {
		t.Fatalf("second Lock while held = %v, %v; want not ok, no error", ok, err)
	}
	if _, ok, err := c.Lock(t.Context(), "cert+y", time.Minute); err != nil || !ok {
		t.Fatalf("Lock of another name = %v, %v; want ok", ok, err)
	}
	release()
	release2, ok, err := c.Lock(t.Context(), "cert+x", time.Minute)
	if err != nil || !ok {
		t.Fatalf("Lock after release = %v, %v; want ok", ok, err)
	}
	release2()
}

func TestLockStaleTakeoverAndReleaseOnlyOwn(t *testing.T) {
	t.Parallel()
	c, now := fakeClockCache(t)
	releaseOld, ok, err := c.Lock(t.Context(), "cert+x", time.Minute)
	if err != nil || !ok {
		t.Fatalf("Lock = %v, %v", ok, err)
	}
	*now = now.Add(59 * time.Second)
	if _, ok, _ := c.Lock(t.Context(), "cert+x", time.Minute); ok {
		t.Fatal("took over a lock before it expired")
	}
	*now = now.Add(time.Second) // expiry reached: the old holder is presumed dead
	releaseNew, ok, err := c.Lock(t.Context(), "cert+x", time.Minute)
	if err != nil || !ok {
		t.Fatalf("Lock of an expired lock = %v, %v; want a takeover", ok, err)
	}
	// The old holder waking up must not free the new holder's lock.
	releaseOld()
	if _, ok, _ := c.Lock(t.Context(), "cert+x", time.Minute); ok {
		t.Fatal("the old holder's release removed the new holder's lock")
	}
	releaseNew()
	if _, ok, _ := c.Lock(t.Context(), "cert+x", time.Minute); !ok {
		t.Fatal("the new holder's release did not free the lock")
	}
	// Takeovers leave no files behind but the lock itself.
	entries, err := os.ReadDir(string(c.DirCache))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "cert+x.lock" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("cache dir holds %v, want just cert+x.lock", names)
	}
}

// A holder that died between create and write leaves a file that does not parse: it is held
// until it is older than the ttl.
func TestLockUnparsableFile(t *testing.T) {
	t.Parallel()
	c, now := fakeClockCache(t)
	path := filepath.Join(string(c.DirCache), "cert+x.lock")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, *now, *now); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := c.Lock(t.Context(), "cert+x", time.Minute); ok {
		t.Fatal("took over a fresh unparsable lock file")
	}
	*now = now.Add(time.Minute)
	if _, ok, err := c.Lock(t.Context(), "cert+x", time.Minute); err != nil || !ok {
		t.Fatalf("Lock of an old unparsable lock file = %v, %v; want a takeover", ok, err)
	}
}

func TestTakeOverRefusesAReplacedLock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "l.lock")
	if err := os.WriteFile(path, []byte("fresh"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := takeOver(path, []byte("stale")); !errors.Is(err, errStaleGone) {
		t.Fatalf("takeOver = %v, want errStaleGone", err)
	}
	if raw, err := os.ReadFile(path); err != nil || string(raw) != "fresh" {
		t.Fatalf("the fresh lock was not put back: %q, %v", raw, err)
	}
}

func TestDirCacheMiss(t *testing.T) {
	t.Parallel()
	c := NewDirCache(t.TempDir())
	if _, err := c.Get(t.Context(), "cert+none"); !errors.Is(err, autocert.ErrCacheMiss) {
		t.Fatalf("Get of a missing key = %v, want autocert.ErrCacheMiss", err)
	}
}
