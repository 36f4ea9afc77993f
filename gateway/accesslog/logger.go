package accesslog

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
)

// Encoding selects the line format a Logger writes.
type Encoding int

const (
	// Text is Istio's default text format (Format).
	Text Encoding = iota
	// JSON is Istio's JSON format (FormatJSON).
	JSON
)

// DefaultQueueSize is how many formatted lines may wait for the writer before new ones are
// dropped: enough to ride out a slow disk or a paused log shipper for a moment at proxy rates,
// small enough (a few MiB at most) to bound memory.
const DefaultQueueSize = 8192

const (
	lineCap    = 512      // typical line length, so most lines format without growing
	maxPoolCap = 16 << 10 // a line past this is rare; do not keep its buffer alive
	writeBuf   = 64 << 10
)

// Logger writes access-log lines to an io.Writer on its own goroutine (Run), so a slow or
// stalled writer never holds up a request. Lines are formatted by the caller, into pooled
// buffers, and queued on a bounded channel; when the queue is full the line is dropped and
// counted instead of waiting.
//
// A channel was chosen over a mutex-guarded bufio.Writer because with the mutex a request
// that happens to trigger the flush waits for the write, and every other request waits for
// that one: a blocked stdout pipe would stall the data plane. Here only Run ever touches the
// writer, and it flushes whenever the queue runs empty, so lines appear promptly when traffic
// is light and are batched into large writes when it is heavy.
type Logger struct {
	w       io.Writer
	format  func([]byte, *Entry) []byte
	queue   chan *[]byte
	pool    sync.Pool
	dropped atomic.Uint64
	log     *slog.Logger
}

// New returns a Logger writing enc lines to w; queueSize <= 0 means DefaultQueueSize. Nothing
// is written until Run is started.
func New(w io.Writer, enc Encoding, queueSize int, log *slog.Logger) *Logger {
	format := Format
	if enc == JSON {
		format = FormatJSON
	}
	return newLogger(w, format, queueSize, log)
}

// NewWithFormatter returns a Logger writing lines in a compiled format (MeshConfig
// accessLogFormat); otherwise it is New.
func NewWithFormatter(w io.Writer, f *Formatter, queueSize int, log *slog.Logger) *Logger {
	return newLogger(w, f.Append, queueSize, log)
}

func newLogger(w io.Writer, format func([]byte, *Entry) []byte, queueSize int, log *slog.Logger) *Logger {
	if queueSize <= 0 {
		queueSize = DefaultQueueSize
	}
	l := &Logger{w: w, format: format, queue: make(chan *[]byte, queueSize), log: log}
	l.pool.New = func() any {
		b := make([]byte, 0, lineCap)
		return &b
	}
	return l
}

// Log formats e and queues the line without blocking; e may be reused once Log returns. A line
// that finds the queue full is dropped and counted in Dropped.
func (l *Logger) Log(e *Entry) {
	bp := l.pool.Get().(*[]byte)
	*bp = l.format((*bp)[:0], e)
	select {
	case l.queue <- bp:
	default:
		l.dropped.Add(1)
		l.release(bp)
	}
}

// Dropped is how many lines were lost, because the queue was full or the writer failed; it
// only grows, for a counter metric.
func (l *Logger) Dropped() uint64 { return l.dropped.Load() }

// Run writes queued lines until ctx is done, then writes what is still queued and returns. It
// is the only goroutine that touches the writer; call it once.
func (l *Logger) Run(ctx context.Context) {
	out := &sink{l: l, bw: bufio.NewWriterSize(l.w, writeBuf)}
	for {
		select {
		case bp := <-l.queue:
			out.write(bp)
			if len(l.queue) == 0 {
				out.flush()
			}
		case <-ctx.Done():
			for {
				select {
				case bp := <-l.queue:
					out.write(bp)
				default:
					out.flush()
					return
				}
			}
		}
	}
}

func (l *Logger) release(bp *[]byte) {
	if cap(*bp) > maxPoolCap {
		return
	}
	l.pool.Put(bp)
}

// sink is Run's buffered view of the writer. It counts the lines that have not yet reached the
// writer, so a failed write can add them to Dropped, and reports a failing writer once rather
// than once per line.
type sink struct {
	l       *Logger
	bw      *bufio.Writer
	pending uint64
	failing bool
}

func (s *sink) write(bp *[]byte) {
	_, err := s.bw.Write(*bp)
	s.l.release(bp)
	s.pending++
	if err != nil {
		s.fail(err)
	}
}

func (s *sink) flush() {
	if err := s.bw.Flush(); err != nil {
		s.fail(err)
		return
	}
	s.pending = 0
	if s.failing {
		s.failing = false
		s.l.log.Info("access log writer recovered")
	}
}

// fail drops what the buffer held: bufio.Writer keeps returning its first error forever, so
// the only way to keep logging after a transient failure is to start a fresh buffer.
func (s *sink) fail(err error) {
	s.l.dropped.Add(s.pending)
	s.pending = 0
	s.bw.Reset(s.l.w)
	if !s.failing {
		s.failing = true
		s.l.log.Warn("access log write failed; dropping lines until it succeeds", "error", err)
	}
}
