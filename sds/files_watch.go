package sds

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Run reads the wanted files, then watches them until ctx is done. It returns an error only when
// the watch itself cannot be set up.
//
// Directories are watched, never single files: that is what sees an editor's rename over the
// file, a kubelet or cert-manager "..data" symlink swap, and a file that does not exist yet. Any
// event in a watched directory schedules one re-read after the debounce; the window is not
// extended by further events, so a change reaches the Store within the debounce however busy the
// directory is.
func (f *FileSource) Run(ctx context.Context) error {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("file credentials: cannot watch: %w", err)
	}
	defer fsw.Close()
	f.refresh(fsw)

	var debounce <-chan time.Time
	var poll <-chan time.Time
	if f.poll > 0 {
		t := time.NewTicker(f.poll)
		defer t.Stop()
		poll = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-f.kick:
			if f.watch(fsw) {
				f.refresh(fsw) // a file may have changed after Want read it, before the watch
			}
		case _, ok := <-fsw.Events:
			if !ok {
				return nil
			}
			if debounce == nil {
				debounce = time.After(f.debounce)
			}
		case err, ok := <-fsw.Errors:
			if !ok {
				return nil
			}
			f.log.Warn("watching credential files", "error", err)
		case <-debounce:
			debounce = nil
			f.refresh(fsw)
		case <-poll:
			f.refresh(fsw)
		}
	}
}

// refresh re-reads the files and follows them to new directories. A directory watched only now
// may have changed before its watch existed, so the files are read again after a new watch; the
// loop is bounded because the wanted paths are.
func (f *FileSource) refresh(fsw *fsnotify.Watcher) {
	for range 3 {
		f.Reload()
		if !f.watch(fsw) {
			return
		}
	}
}

// watch makes the watched directories those the wanted files need; it reports whether a new
// watch was added.
func (f *FileSource) watch(fsw *fsnotify.Watcher) bool {
	want := f.dirsToWatch()
	have := fsw.WatchList()
	added := false
	for _, d := range want {
		if slices.Contains(have, d) {
			continue
		}
		if err := fsw.Add(d); err != nil {
			f.log.Warn("cannot watch credential directory; changes are seen at the next poll", "path", d, "error", err)
			continue
		}
		added = true
	}
	for _, d := range have {
		if !slices.Contains(want, d) {
			_ = fsw.Remove(d) // it may be gone already
		}
	}
	f.mu.Lock()
	f.watching = fsw.WatchList()
	f.mu.Unlock()
	return added
}

// watchDirs returns, sorted and without duplicates, the directories whose events can mean a
// change to one of paths: the directory named in the path, and the directory of the file it
// resolves to through symlinks. A directory that does not exist yet is stood in for by its
// nearest existing ancestor, whose events announce its creation.
func watchDirs(paths []string) []string {
	var dirs []string
	for _, p := range paths {
		dirs = append(dirs, existingAncestor(filepath.Dir(p)))
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
	}
	slices.Sort(dirs)
	return slices.Compact(dirs)
}

func existingAncestor(dir string) string {
	for {
		if info, err := os.Stat(dir); err == nil && info.IsDir() {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return dir
		}
		dir = parent
	}
}
