//go:build linux || darwin

package h1

import (
	"errors"
	"net"
	"syscall"
)

// alive peeks at an idle connection without blocking: an upstream that closed it (a FIN or a
// reset waiting in the socket) or, on plaintext, sent bytes nobody asked for, makes it dead.
// On TLS pending bytes may be a session ticket or an alert, so only EOF and errors count.
// It costs one system call, so it is spent only on requests that could not be retried.
func alive(nc net.Conn) bool {
	plain := true
	if tc, ok := nc.(interface{ NetConn() net.Conn }); ok {
		nc, plain = tc.NetConn(), false
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	live := true
	var buf [1]byte
	err = raw.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EINTR):
		case err != nil, n == 0:
			live = false
		default:
			live = !plain
		}
		return true
	})
	return live && err == nil
}
