package h1

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
)

// body is a response body read straight from its connection. At EOF the connection goes back
// to the pool when keep allows; an error, or Close before EOF, closes it: an unread remainder
// could be any size, and draining it would block the caller on the upstream.
type body struct {
	rc   io.ReadCloser // http.ReadResponse's body, which fills Trailer at EOF
	t    *Transport
	c    *conn
	ctx  context.Context
	stop func() bool
	keep bool
	// state moves once from bodyReading to bodyDone: the side that moves it (a Read at EOF or
	// failing, or Close) settles the connection. Close may race a Read in another goroutine.
	state atomic.Uint32
	err   error // the Read error that settled it
}

const (
	bodyReading = iota
	bodyEOF
	bodyFailed
	bodyClosed
)

var errBodyClosed = errors.New("h1: read on closed response body")

func (b *body) Read(p []byte) (int, error) {
	switch b.state.Load() {
	case bodyEOF:
		return 0, io.EOF
	case bodyFailed:
		return 0, b.err
	case bodyClosed:
		return 0, errBodyClosed
	}
	n, err := b.rc.Read(p)
	switch {
	case err == nil:
		return n, nil
	case err == io.EOF:
		if b.state.CompareAndSwap(bodyReading, bodyEOF) {
			b.t.finish(b.c, b.stop, b.keep)
		}
		return n, io.EOF
	}
	if b.ctx.Err() != nil {
		err = ctxError(b.ctx, "reading response body from", b.c.hp.key.addr, err)
	}
	b.err = err
	if b.state.CompareAndSwap(bodyReading, bodyFailed) {
		b.t.abandon(b.c, b.stop)
	}
	return n, err
}

func (b *body) Close() error {
	if b.state.CompareAndSwap(bodyReading, bodyClosed) {
		b.t.abandon(b.c, b.stop)
	}
	return nil
}

// upgradeBody is a 101 response's body: the raw connection, readable (bytes already buffered
// first) and writable, as httputil.ReverseProxy requires to splice an upgrade.
type upgradeBody struct{ c *conn }

func (u *upgradeBody) Read(p []byte) (int, error)  { return u.c.br.Read(p) }
func (u *upgradeBody) Write(p []byte) (int, error) { return u.c.nc.Write(p) }
func (u *upgradeBody) Close() error                { return u.c.nc.Close() }
