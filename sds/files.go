package sds

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync"
	"time"
)

// FileSourceName is the Store source that file credentials named by Gateways are stored under.
const FileSourceName = "gateway-files"

// FileSourceOptions configure a FileSource; the zero value is usable.
type FileSourceOptions struct {
	Logger *slog.Logger
	// Debounce is how long after the first change in a watched directory the files are read
	// (default 100ms), so a certificate and key written one after the other, or an editor's
	// write-rename, are usually read as one update.
	Debounce time.Duration
	// Poll re-reads every file at this interval as a safety net for changes no event reports,
	// such as a symlink swapped above the watched directories (default 30s; negative disables).
	Poll time.Duration
}

// FileSource feeds the Store with the certificate, key, CA and CRL files that Gateways name
// (serverCertificate/privateKey, caCertificates, caCrl), and reloads them when they change, which
// Istio cannot do without a restart.
//
// A file that cannot be read is logged and its last good content keeps being used, so a file
// briefly missing during a rename never removes a credential. A credential appears in the Store
// only once each of its files has been read; until then (a CRL included) it does not exist, and a
// mutual server cannot verify clients rather than verifying them without the CRL.
type FileSource struct {
	store    *Store
	log      *slog.Logger
	debounce time.Duration
	poll     time.Duration
	kick     chan struct{} // capacity 1: the set of watched directories may have changed

	mu      sync.Mutex
	wanted  []FileCredential
	last    map[string][]byte // path -> last content read successfully
	failing map[string]string // path -> the read error last logged, so it is logged once
	dirs    []string          // directories to watch for the wanted files, sorted
	// watching is what Run watches now; tests wait on it before changing files.
	watching []string
}

// NewFileSource returns a source that writes into store; Want sets its files, Run watches them.
func NewFileSource(store *Store, opts FileSourceOptions) *FileSource {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 100 * time.Millisecond
	}
	if opts.Poll == 0 {
		opts.Poll = 30 * time.Second
	}
	return &FileSource{
		store: store, log: opts.Logger.With("component", "sds", "source", FileSourceName),
		debounce: opts.Debounce, poll: opts.Poll,
		kick:    make(chan struct{}, 1),
		last:    map[string][]byte{},
		failing: map[string]string{},
	}
}

// Want replaces the set of file credentials (usually WantedFiles of the current snapshot) and
// reads them at once: when Want returns, the Store holds what the files contain now. Credentials
// no longer wanted leave the Store.
func (f *FileSource) Want(files []FileCredential) {
	f.mu.Lock()
	f.wanted = slices.Clone(files)
	f.reloadLocked()
	f.mu.Unlock()
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// Reload reads every wanted file now and hands the result to the Store.
func (f *FileSource) Reload() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reloadLocked()
}

// fileRole is one file of a credential: the Secret-style data key the Store parses it under.
type fileRole struct {
	key  string
	what string
	path string
}

func (fc FileCredential) roles() []fileRole {
	var out []fileRole
	for _, r := range []fileRole{
		{"tls.crt", "certificate", fc.Cert},
		{"tls.key", "private key", fc.Key},
		{"ca.crt", "CA certificates", fc.CA},
		{"ca.crl", "CRL", fc.CRL},
	} {
		if r.path != "" {
			out = append(out, r)
		}
	}
	return out
}

func (f *FileSource) reloadLocked() {
	type content struct {
		data []byte
		ok   bool
	}
	round := map[string]content{} // each path is read once per round, however many credentials share it
	items := map[string]map[string][]byte{}
	wantedPaths := map[string]bool{}
	for _, fc := range f.wanted {
		data := map[string][]byte{}
		complete := true
		for _, r := range fc.roles() {
			wantedPaths[r.path] = true
			c, seen := round[r.path]
			if !seen {
				c.data, c.ok = f.read(fc.StoreName, r)
				round[r.path] = c
			}
			data[r.key] = c.data
			complete = complete && c.ok
		}
		if complete {
			items[fc.StoreName] = data
		}
	}
	maps.DeleteFunc(f.last, func(p string, _ []byte) bool { return !wantedPaths[p] })
	maps.DeleteFunc(f.failing, func(p string, _ string) bool { return !wantedPaths[p] })
	f.store.ReplaceSource(FileSourceName, items)
	f.dirs = watchDirs(slices.Sorted(maps.Keys(wantedPaths)))
}

// read returns a file's content, or its last good content when it cannot be read now; ok is false
// when it has never been read.
func (f *FileSource) read(credential string, r fileRole) (content []byte, ok bool) {
	b, err := readCredentialFile(r.path)
	if err == nil {
		if _, was := f.failing[r.path]; was {
			delete(f.failing, r.path)
			f.log.Info("credential file readable again", "credential", credential, "file", r.what, "path", r.path)
		}
		f.last[r.path] = b
		return b, true
	}
	prev, had := f.last[r.path]
	if f.failing[r.path] != err.Error() {
		f.failing[r.path] = err.Error()
		if had {
			f.log.Error("cannot read credential file; its last good content keeps serving",
				"credential", credential, "file", r.what, "path", r.path, "error", err)
		} else {
			f.log.Error("cannot read credential file; the credential is not available until it can be read",
				"credential", credential, "file", r.what, "path", r.path, "error", err)
		}
	}
	return prev, had
}

// maxCredentialFile bounds what one credential file may hold; a bundle of a thousand CA
// certificates fits well within it.
const maxCredentialFile = 4 << 20

// readCredentialFile reads a regular file of bounded size, so a path mistyped to a device or a
// FIFO cannot block or exhaust the source.
func readCredentialFile(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%s)", path, info.Mode().Type())
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxCredentialFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > maxCredentialFile {
		return nil, fmt.Errorf("%s: larger than %d MiB, not a credential file", path, maxCredentialFile>>20)
	}
	return b, nil
}

// dirsToWatch returns the directories to watch for the wanted files.
func (f *FileSource) dirsToWatch() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dirs
}
