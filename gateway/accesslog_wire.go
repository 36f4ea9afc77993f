package gateway

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/gateway/accesslog"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// AccessLog is where and how the gateway logs every request, from MeshConfig accessLogFile
// and accessLogEncoding as Istio users set them.
type AccessLog struct {
	// File is accessLogFile: /dev/stdout, /dev/stderr or a path lines are appended to.
	File string `yaml:"file"`
	// Encoding is accessLogEncoding: TEXT (Envoy's default format) or JSON.
	Encoding string `yaml:"encoding"`
	// Format is accessLogFormat as written: an Envoy format string for TEXT, a JSON object of
	// format strings for JSON; empty for Istio's default. It is compiled when the log opens.
	Format string `yaml:"format,omitempty"`
}

// accessLogConfig compiles the mesh's access log settings; nil when accessLogFile is empty,
// Istio's default, which turns the access log off.
func accessLogConfig(snap *policy.Snapshot) (*AccessLog, policy.Problems) {
	m := snap.Mesh
	if m.GetAccessLogFile() == "" {
		return nil, nil
	}
	al := &AccessLog{File: m.GetAccessLogFile(), Encoding: m.GetAccessLogEncoding().String(), Format: m.GetAccessLogFormat()}
	if al.Format == "" {
		return al, nil
	}
	// Compiled here only for its warnings, so they are reported with the snapshot that
	// brought them; openAccessLog compiles the same string again for the sink.
	_, warnings := accesslog.Compile(al.Format, al.encoding())
	var problems policy.Problems
	for _, w := range warnings {
		problems = append(problems, policy.Problem{
			Severity: policy.Warning,
			Resource: "ConfigMap/" + snap.RootNamespace() + "/istio",
			Field:    "data.mesh.accessLogFormat",
			Reason:   w,
		})
	}
	return al, problems
}

func (a AccessLog) encoding() accesslog.Encoding {
	if a.Encoding == "JSON" {
		return accesslog.JSON
	}
	return accesslog.Text
}

// accessLogSink is the access log a Gateway is writing: the Logger, the goroutine running it
// and the file under it. It is replaced, never changed, when the mesh config changes.
type accessLogSink struct {
	cfg    AccessLog
	logger *accesslog.Logger
	file   io.Closer // nil for stdout and stderr, which the gateway does not own
	cancel context.CancelFunc
	done   chan struct{}
}

// openAccessLog starts a Logger for cfg; its goroutine runs until close.
func (g *Gateway) openAccessLog(cfg AccessLog) (*accessLogSink, error) {
	var w io.Writer
	var file io.Closer
	switch cfg.File {
	case "/dev/stdout":
		w = os.Stdout
	case "/dev/stderr":
		w = os.Stderr
	default:
		f, err := os.OpenFile(cfg.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("mesh accessLogFile %q: %w", cfg.File, err)
		}
		w, file = f, f
	}
	// Istio's default formats keep their hand-written formatters, which benchmark faster
	// than the same formats compiled.
	logger := accesslog.New(w, cfg.encoding(), 0, g.log)
	if cfg.Format != "" {
		f, _ := accesslog.Compile(cfg.Format, cfg.encoding())
		logger = accesslog.NewWithFormatter(w, f, 0, g.log)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &accessLogSink{cfg: cfg, logger: logger, file: file, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.logger.Run(ctx)
	}()
	return s, nil
}

// close writes what is queued, stops the goroutine and closes the file.
func (s *accessLogSink) close() error {
	s.cancel()
	<-s.done
	if s.file != nil {
		return s.file.Close()
	}
	return nil
}

// accessLogs holds the Gateway's current sink. Requests read live without a lock; Apply and
// Shutdown swap it under mu.
type accessLogs struct {
	live    atomic.Pointer[accessLogSink]
	mu      sync.Mutex
	retired sync.WaitGroup
}

// update makes cfg (nil: off) the access log. A file that cannot be opened leaves the previous
// log in place, so a typo in accessLogFile loses no lines; the next Apply tries again. The
// old sink finishes once requests that may still hold it had the drain time to log.
func (g *Gateway) updateAccessLog(cfg *AccessLog) {
	a := &g.accessLogs
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.live.Load()
	switch {
	case cfg == nil && old == nil:
		return
	case cfg != nil && old != nil && *cfg == old.cfg:
		return
	}
	var next *accessLogSink
	if cfg != nil {
		s, err := g.openAccessLog(*cfg)
		if err != nil {
			g.log.Error("access log not changed", "error", err)
			return
		}
		next = s
		g.log.Info("access log", "file", cfg.File, "encoding", cfg.Encoding)
	}
	a.live.Store(next)
	if old != nil {
		drain := g.drain
		a.retired.Go(func() { g.closeAccessLog(old, drain) })
	}
}

// closeAccessLog stops a replaced sink after in-flight requests could log to it.
func (g *Gateway) closeAccessLog(s *accessLogSink, drain time.Duration) {
	t := time.NewTimer(drain)
	defer t.Stop()
	select {
	case <-t.C:
	case <-g.stop:
	}
	if err := s.close(); err != nil {
		g.log.Warn("closing access log", "file", s.cfg.File, "error", err)
	}
}

// stopAccessLog flushes and closes the access log at shutdown, after the listeners drained.
func (g *Gateway) stopAccessLog() {
	a := &g.accessLogs
	a.mu.Lock()
	s := a.live.Swap(nil)
	a.mu.Unlock()
	if s != nil {
		if err := s.close(); err != nil {
			g.log.Warn("closing access log", "file", s.cfg.File, "error", err)
		}
	}
	a.retired.Wait()
}
