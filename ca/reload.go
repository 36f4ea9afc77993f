package ca

import (
	"context"
	"fmt"
	"time"

	"github.com/fsnotify/fsnotify"
)

// reloadDebounce gathers the several events one update makes (a Kubernetes secret update
// swaps the ..data symlink; a human copies four files one by one) into one reload.
const reloadDebounce = 200 * time.Millisecond

// watchPlugin reloads the plug-in CA whenever its directory changes. It watches the directory,
// not the files, so atomic renames and Kubernetes' symlink swaps are seen.
func (a *Authority) watchPlugin(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("ca: plug-in CA %s: watch: %w", a.opts.PluginDir, err)
	}
	defer w.Close()
	if err := w.Add(a.opts.PluginDir); err != nil {
		return fmt.Errorf("ca: plug-in CA %s: watch: %w", a.opts.PluginDir, err)
	}
	// Changes made between New and the watch starting are not lost.
	a.reload()

	timer := time.NewTimer(reloadDebounce)
	timer.Stop() // armed by the first event
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			timer.Reset(reloadDebounce)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			a.log.Warn("plug-in CA watch error; changes may be picked up late", "dir", a.opts.PluginDir, "error", err)
			timer.Reset(reloadDebounce)
		case <-timer.C:
			a.reload()
		}
	}
}

// reload loads the plug-in CA and swaps it in if it is valid and different. A bad plug-in is
// logged with its reason and the last good signer keeps signing.
func (a *Authority) reload() {
	s, err := loadPlugin(a.opts.PluginDir, a.now())
	if err != nil {
		a.reloads.WithLabelValues("error").Inc()
		a.log.Error("plug-in CA rejected; the previous CA keeps signing", "error", err)
		return
	}
	if sameMaterial(s, a.cur.Load()) {
		return
	}
	a.swap(s)
	a.reloads.WithLabelValues("ok").Inc()
	a.logSigner("plug-in CA reloaded", s)
}
