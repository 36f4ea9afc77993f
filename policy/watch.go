package policy

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"
)

// CredentialSink receives the Secrets of each accepted load, keyed "namespace/name", replacing
// everything it had from the same source. sds.Store implements it.
type CredentialSink interface {
	ReplaceSource(source string, secrets map[string]map[string][]byte)
}

// WatchOptions configure a Watcher.
type WatchOptions struct {
	Load   LoadOptions
	Logger *slog.Logger
	// Credentials receives Secrets; nil drops them.
	Credentials CredentialSink
	// Registerer gets the reload metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Debounce is how long the directory must be quiet before a reload (default 100ms), so an
	// editor's write-rename-chmod or a ConfigMap's symlink swap yields one reload.
	Debounce time.Duration
	// Poll rescans the directory at this interval as a safety net for missed events
	// (default 30s; negative disables).
	Poll time.Duration
}

// Watcher loads a config directory, watches it, and publishes a new Snapshot for every accepted
// change. A load with errors is logged and rejected; the last good snapshot keeps serving.
type Watcher struct {
	dir  string
	opts WatchOptions
	log  *slog.Logger

	reloads *prometheus.CounterVec

	mu        sync.Mutex
	current   *Snapshot
	problems  Problems // of the last load, accepted or not
	firstSeen map[string]time.Time
	digest    [32]byte
	subs      map[chan *Snapshot]struct{}
	// opaDirs are the Settings.opa directories of the last load, watched beside dir: they may
	// lie outside it.
	opaDirs []string
}

// CredentialSource is the source name the Watcher's Secrets are stored under.
const CredentialSource = "files"

// NewWatcher prepares a watcher for dir; Run starts it.
func NewWatcher(dir string, opts WatchOptions) *Watcher {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Debounce == 0 {
		opts.Debounce = 100 * time.Millisecond
	}
	if opts.Poll == 0 {
		opts.Poll = 30 * time.Second
	}
	w := &Watcher{
		dir: dir, opts: opts, log: opts.Logger.With("component", "policy", "dir", dir),
		firstSeen: map[string]time.Time{},
		subs:      map[chan *Snapshot]struct{}{},
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_config_reloads_total",
			Help: "Config loads by result: ok (a new snapshot), unchanged, or failed (rejected; the last good snapshot keeps serving).",
		}, []string{"result"}),
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(w.reloads)
	}
	return w
}

// Current returns the snapshot in force, nil before the first good load.
func (w *Watcher) Current() *Snapshot {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.current
}

// Problems returns the problems of the most recent load.
func (w *Watcher) Problems() Problems {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.problems
}

// Subscribe returns a channel that yields the current snapshot at once (if there is one), then
// every new one. A slow subscriber skips intermediate snapshots but always gets the newest. The
// channel is closed when ctx is done.
func (w *Watcher) Subscribe(ctx context.Context) <-chan *Snapshot {
	ch := make(chan *Snapshot, 1)
	w.mu.Lock()
	w.subs[ch] = struct{}{}
	if w.current != nil {
		ch <- w.current
	}
	w.mu.Unlock()
	context.AfterFunc(ctx, func() {
		w.mu.Lock()
		delete(w.subs, ch)
		close(ch)
		w.mu.Unlock()
	})
	return ch
}

// Reload loads the directory now and publishes the result if it is good and differs.
// It reports whether the load was accepted.
func (w *Watcher) Reload() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	opts := w.opts.Load
	seenNow := map[string]time.Time{}
	now := time.Now()
	opts.FirstSeen = func(key string) time.Time {
		t, ok := w.firstSeen[key]
		if !ok {
			t = now
		}
		seenNow[key] = t
		return t
	}
	cfg, err := LoadDir(w.dir, opts)
	if err != nil {
		w.reloads.WithLabelValues("failed").Inc()
		w.log.Error("config rejected; keeping the last good snapshot", "error", err)
		return false
	}
	w.problems = cfg.Problems
	w.opaDirs = cfg.opaDirs()
	if n := cfg.Problems.Errors(); n > 0 {
		w.reloads.WithLabelValues("failed").Inc()
		for _, p := range cfg.Problems {
			if p.Severity == Error {
				w.log.Error("config rejected", "problem", p.String())
			}
		}
		w.log.Error("config rejected; keeping the last good snapshot", "errors", n, "version", w.versionLocked())
		return false
	}
	w.firstSeen = seenNow
	if w.opts.Credentials != nil {
		secrets := make(map[string]map[string][]byte, len(cfg.Secrets))
		for _, s := range cfg.Secrets {
			secrets[s.Namespace+"/"+s.Name] = s.Data
		}
		w.opts.Credentials.ReplaceSource(CredentialSource, secrets)
	}
	d := cfg.digest()
	if w.current != nil && d == w.digest {
		w.reloads.WithLabelValues("unchanged").Inc()
		return true
	}
	for _, p := range cfg.Problems {
		w.log.Warn("config warning", "problem", p.String())
	}
	snap := cfg.Snapshot(w.versionLocked() + 1)
	w.current, w.digest = snap, d
	w.reloads.WithLabelValues("ok").Inc()
	w.log.Info("config applied", "version", snap.Version, "resources", len(snap.Resources()), "warnings", len(snap.Warnings))
	for ch := range w.subs {
		select { // replace a snapshot the subscriber has not taken yet
		case <-ch:
		default:
		}
		ch <- snap
	}
	return true
}

func (w *Watcher) versionLocked() uint64 {
	if w.current == nil {
		return 0
	}
	return w.current.Version
}

// Run loads the directory, then watches it until ctx is done. It returns an error only when the
// watch itself cannot be set up.
func (w *Watcher) Run(ctx context.Context) error {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer fsw.Close()
	w.watchTree(fsw)
	w.Reload()
	watching := w.watchOPADirs(fsw, nil)
	// The OPA dirs are known only once loaded: a change made before their watches were added
	// would otherwise be missed until the next event, so load once more (an unchanged load
	// publishes nothing).
	if len(watching) > 0 {
		w.Reload()
	}

	var debounce <-chan time.Time
	var timer *time.Timer
	var poll <-chan time.Time
	if w.opts.Poll > 0 {
		t := time.NewTicker(w.opts.Poll)
		defer t.Stop()
		poll = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-fsw.Events:
			if !ok {
				return nil
			}
			if ev.Has(fsnotify.Create) {
				w.watchTree(fsw) // a new subdirectory, or a ConfigMap's new ..data target
				watching = w.watchOPADirs(fsw, nil)
			}
			if timer == nil {
				timer = time.NewTimer(w.opts.Debounce)
			} else {
				timer.Reset(w.opts.Debounce)
			}
			debounce = timer.C
		case err, ok := <-fsw.Errors:
			if !ok {
				return nil
			}
			w.log.Warn("watching config directory", "error", err)
		case <-debounce:
			debounce = nil
			watching = w.reloadAndWatch(fsw, watching)
		case <-poll:
			watching = w.reloadAndWatch(fsw, watching)
		}
	}
}

// reloadAndWatch reloads, then watches the OPA dirs the load names; when that adds watches, it
// loads again, so a change made before the new watches is not missed.
func (w *Watcher) reloadAndWatch(fsw *fsnotify.Watcher, watching []string) []string {
	w.Reload()
	next := w.watchOPADirs(fsw, watching)
	if !slices.Equal(next, watching) {
		w.Reload()
	}
	return next
}

// watchTree adds a watch on the directory and every subdirectory that loading reads. Watching a
// directory (never single files) is what survives atomic renames and symlink swaps.
func (w *Watcher) watchTree(fsw *fsnotify.Watcher) {
	w.addTree(fsw, w.dir)
}

// watchOPADirs watches the trees of the Settings.opa directories of the last load, unless they
// are the ones already watched; it returns the directories now watched. A directory a later
// load no longer names stays watched: its changes cost an unchanged reload, nothing more.
func (w *Watcher) watchOPADirs(fsw *fsnotify.Watcher, watching []string) []string {
	w.mu.Lock()
	dirs := w.opaDirs
	w.mu.Unlock()
	if slices.Equal(dirs, watching) {
		return watching
	}
	for _, d := range dirs {
		w.addTree(fsw, d)
	}
	return dirs
}

// addTree adds a watch on root and every subdirectory under it, as loading walks them.
func (w *Watcher) addTree(fsw *fsnotify.Watcher, root string) {
	var add func(dir string, depth int)
	add = func(dir string, depth int) {
		if depth > maxDepth {
			return
		}
		if err := fsw.Add(dir); err != nil {
			w.log.Warn("cannot watch directory", "path", dir, "error", err)
			return
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "..") {
				continue
			}
			p := filepath.Join(dir, e.Name())
			if info, err := os.Stat(p); err == nil && info.IsDir() {
				add(p, depth+1)
			}
		}
	}
	add(root, 0)
}
