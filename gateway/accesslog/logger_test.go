package accesslog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// startLogger runs l until the returned stop is called; stop waits for Run to finish writing.
func startLogger(t *testing.T, l *Logger) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Run(ctx)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	t.Cleanup(stop)
	return stop
}

func entryN(i int) *Entry {
	return &Entry{StartTime: start, Method: "GET", Path: "/", ResponseCode: 200,
		RequestID: fmt.Sprintf("req-%04d", i)}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestLoggerWritesInOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		enc  Encoding
		id   func(i int) string
	}{
		{"text", Text, func(i int) string { return fmt.Sprintf(`"req-%04d"`, i) }},
		{"json", JSON, func(i int) string { return fmt.Sprintf(`"request_id":"req-%04d"`, i) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			l := New(&out, tc.enc, 1000, quietLog())
			stop := startLogger(t, l)
			const n = 500
			e := &Entry{}
			for i := range n {
				*e = *entryN(i) // the caller may reuse its Entry once Log returns
				l.Log(e)
			}
			stop()
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if len(lines) != n {
				t.Fatalf("%d lines, want %d", len(lines), n)
			}
			for i, line := range lines {
				if !strings.Contains(line, tc.id(i)) {
					t.Fatalf("line %d is %q, want request %d", i, line, i)
				}
			}
			if d := l.Dropped(); d != 0 {
				t.Errorf("Dropped() = %d, want 0", d)
			}
		})
	}
}

// blockingWriter holds every Write until released, and says when the first one arrives.
type blockingWriter struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	buf     bytes.Buffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.entered) })
	<-w.release
	return w.buf.Write(p)
}

func TestLoggerDropsWhenWriterBlocks(t *testing.T) {
	t.Parallel()
	w := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
	const queue = 4
	l := New(w, Text, queue, quietLog())
	stop := startLogger(t, l)

	l.Log(entryN(0))
	select {
	case <-w.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the writer was never called")
	}
	// Run is now stuck in Write: the queue fills, then every further line is dropped, and
	// Log returns at once each time (a blocking Log would hang this test).
	for i := 1; i <= queue+3; i++ {
		l.Log(entryN(i))
	}
	if d := l.Dropped(); d != 3 {
		t.Errorf("Dropped() = %d while blocked, want 3", d)
	}
	close(w.release)
	stop()

	var want strings.Builder
	for i := 0; i <= queue; i++ {
		want.Write(Format(nil, entryN(i)))
	}
	if got := w.buf.String(); got != want.String() {
		t.Errorf("written:\n%s\nwant:\n%s", got, want.String())
	}
	if d := l.Dropped(); d != 3 {
		t.Errorf("Dropped() = %d after release, want 3", d)
	}
}

// flakyWriter fails its first failures writes, then succeeds.
type flakyWriter struct {
	failures int
	buf      bytes.Buffer
}

func (w *flakyWriter) Write(p []byte) (int, error) {
	if w.failures > 0 {
		w.failures--
		return 0, errors.New("disk full")
	}
	return w.buf.Write(p)
}

func TestLoggerCountsFailedWritesAndRecovers(t *testing.T) {
	t.Parallel()
	w := &flakyWriter{failures: 2}
	var logs bytes.Buffer
	l := New(w, Text, 16, slog.New(slog.NewTextHandler(&logs, nil)))
	stop := startLogger(t, l)

	for i := range 2 {
		l.Log(entryN(i))
		waitFor(t, fmt.Sprintf("line %d to fail", i), func() bool { return l.Dropped() == uint64(i+1) })
	}
	l.Log(entryN(2))
	stop()

	if got, want := w.buf.String(), string(Format(nil, entryN(2))); got != want {
		t.Errorf("written %q, want only the line after recovery %q", got, want)
	}
	if n := strings.Count(logs.String(), "access log write failed"); n != 1 {
		t.Errorf("failure reported %d times, want once:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "access log writer recovered") {
		t.Errorf("recovery not reported:\n%s", logs.String())
	}
}

func TestLoggerWithoutRunNeverBlocks(t *testing.T) {
	t.Parallel()
	l := New(&bytes.Buffer{}, JSON, 2, quietLog())
	for i := range 5 {
		l.Log(entryN(i))
	}
	if d := l.Dropped(); d != 3 {
		t.Errorf("Dropped() = %d, want 3", d)
	}
}

func BenchmarkLoggerLog(b *testing.B) {
	l := New(discard{}, Text, 0, quietLog())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Run(ctx)
	}()
	e := &representative[0].entry
	b.ReportAllocs()
	for b.Loop() {
		l.Log(e)
	}
	cancel()
	<-done
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
