package gateway

import (
	"errors"
	"io"
	"sync"
)

// retryBufferLimit is Envoy's default per-connection buffer limit: a request body that fits is
// kept for a retry, a larger one makes the request not retriable.
const retryBufferLimit = 1 << 20

var (
	errTryOver       = errors.New("request body: this try was abandoned for a retry")
	errBodyNotReplay = errors.New("request body: larger than the retry buffer, cannot be replayed")
)

// replayBody streams a request body to the first try while keeping a copy, so that a retry
// can send the same bytes. A transport may still read an abandoned try's body from another
// goroutine, so each try reads through its own reader, and a stale reader fails.
type replayBody struct {
	// readMu serialises reads of src; mu guards the rest and is never held while src blocks.
	readMu sync.Mutex
	src    io.Reader

	mu       sync.Mutex
	buf      []byte
	srcErr   error
	overflow bool
	try      int
}

func newReplayBody(src io.Reader) *replayBody { return &replayBody{src: src} }

// next returns the reader for a new try, or false when the body can no longer be replayed.
func (b *replayBody) next() (io.ReadCloser, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.overflow {
		return nil, false
	}
	b.try++
	return &replayReader{b: b, try: b.try}, true
}

type replayReader struct {
	b   *replayBody
	try int
	off int
	// direct is set once this reader's bytes overflowed the copy: it reads src alone from then.
	direct bool
}

func (r *replayReader) Read(p []byte) (int, error) {
	b := r.b
	b.mu.Lock()
	switch {
	case r.try != b.try:
		b.mu.Unlock()
		return 0, errTryOver
	case r.off < len(b.buf):
		n := copy(p, b.buf[r.off:])
		r.off += n
		b.mu.Unlock()
		return n, nil
	case b.overflow && !r.direct:
		// Another try's read overflowed the copy: this try's bytes are gone.
		b.mu.Unlock()
		return 0, errBodyNotReplay
	case b.srcErr != nil:
		err := b.srcErr
		b.mu.Unlock()
		return 0, err
	}
	b.mu.Unlock()

	b.readMu.Lock()
	n, err := b.src.Read(p)
	b.readMu.Unlock()

	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		b.srcErr = err
	}
	if !b.overflow {
		if len(b.buf)+n > retryBufferLimit {
			b.overflow, b.buf = true, nil
			r.direct = r.try == b.try
		} else {
			b.buf = append(b.buf, p[:n]...)
		}
	}
	if r.try != b.try {
		return 0, errTryOver
	}
	r.off += n
	return n, err
}

// Close leaves the client's body open: the server closes it when the handler returns.
func (r *replayReader) Close() error { return nil }
