package acmecert

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/acme/autocert"
)

// Cache keeps account keys, certificates and pending challenge answers, and the locks that keep
// replicas sharing it from ordering the same certificate twice. Get returns autocert.ErrCacheMiss
// for a missing key.
type Cache interface {
	autocert.Cache
	// Lock takes the named lock for ttl. ok is false, with a nil error, while another holder's
	// lock is unexpired. release gives the lock up only if it is still this holder's.
	Lock(ctx context.Context, name string, ttl time.Duration) (release func(), ok bool, err error)
}

// NewDirCache returns a Cache in dir (created on first write, mode 0700): autocert.DirCache
// for the data, and for each lock a file "<name>.lock" holding its holder and expiry.
func NewDirCache(dir string) Cache {
	return &dirCache{DirCache: autocert.DirCache(dir), dir: dir, now: time.Now}
}

type dirCache struct {
	autocert.DirCache
	dir string
	now func() time.Time // the wall clock every replica's expiry is compared with
}

// lockFile is a lock file's content. Holder is random per Lock call, so a release or a
// takeover recognises exactly the lock it read.
type lockFile struct {
	Holder  string    `json:"holder"`
	Expires time.Time `json:"expires"`
}

// errStaleGone means the stale lock a takeover meant to remove was replaced meanwhile.
var errStaleGone = errors.New("lock changed during takeover")

func (d *dirCache) Lock(ctx context.Context, name string, ttl time.Duration) (func(), bool, error) {
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return nil, false, err
	}
	path := filepath.Join(d.dir, name+".lock")
	holder, err := randomID()
	if err != nil {
		return nil, false, err
	}
	content, err := json.Marshal(lockFile{Holder: holder, Expires: d.now().Add(ttl)})
	if err != nil {
		return nil, false, err
	}
	// Two rounds: a lock released or taken over between our create and our read gets one more
	// O_EXCL try; anything busier than that is another holder's.
	for range 2 {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		created, err := createExclusive(path, content)
		if err != nil {
			return nil, false, fmt.Errorf("lock %s: %w", path, err)
		}
		if created {
			return func() { releaseLock(path, holder) }, true, nil
		}
		raw, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // released meanwhile
		}
		if err != nil {
			return nil, false, fmt.Errorf("lock %s: %w", path, err)
		}
		if !d.stale(path, raw, ttl) {
			return nil, false, nil
		}
		switch err := takeOver(path, raw); {
		case errors.Is(err, errStaleGone):
			return nil, false, nil // someone else took it over first
		case err != nil:
			return nil, false, fmt.Errorf("lock %s: %w", path, err)
		}
	}
	return nil, false, nil
}

// stale reports whether a lock file's holder let it expire. A file that does not parse (a
// holder died between create and write) counts as stale once it is older than ttl.
func (d *dirCache) stale(path string, raw []byte, ttl time.Duration) bool {
	var l lockFile
	if err := json.Unmarshal(raw, &l); err == nil && l.Holder != "" {
		return !d.now().Before(l.Expires)
	}
	fi, err := os.Stat(path)
	return err == nil && d.now().Sub(fi.ModTime()) >= ttl
}

// createExclusive creates path with content only if it does not exist.
func createExclusive(path string, content []byte) (bool, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	_, werr := f.Write(content)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
		return false, werr
	}
	return true, nil
}

// takeOver removes the stale lock whose content is stale, atomically: it renames whatever is at
// path aside, and only if that is still the stale content it read deletes it, leaving path free
// for the caller's O_EXCL create (which one replica wins). Had another replica taken the lock
// over in between, its fresh lock is linked back (link fails rather than overwrite a newer one).
func takeOver(path string, stale []byte) error {
	id, err := randomID()
	if err != nil {
		return err
	}
	aside := path + ".stale-" + id
	if err := os.Rename(path, aside); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	defer os.Remove(aside)
	raw, err := os.ReadFile(aside)
	if err != nil {
		return err
	}
	if string(raw) != string(stale) {
		_ = os.Link(aside, path)
		return errStaleGone
	}
	return nil
}

// releaseLock removes the lock file only while it is still this holder's: after an expiry and a
// takeover it belongs to someone else.
func releaseLock(path, holder string) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var l lockFile
	if json.Unmarshal(raw, &l) == nil && l.Holder == holder {
		os.Remove(path)
	}
}

func randomID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
