package clienthello

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"time"
)

// Hello is what a ClientHello says that routing needs.
type Hello struct {
	// ServerName is the SNI, as the client sent it; "" when it sent none.
	ServerName string
	// ALPN lists the application protocols the client offers, in its order of preference.
	ALPN []string
	// SupportedVersions are the TLS versions the client offers.
	SupportedVersions []uint16
}

// Errors Peek returns besides the connection's own read errors.
var (
	// ErrNotTLS means the first bytes are not a TLS handshake (plaintext HTTP on a TLS port, a
	// port scanner, garbage).
	ErrNotTLS = errors.New("clienthello: not a TLS ClientHello")
	// ErrTimeout means the deadline passed before a whole ClientHello arrived.
	ErrTimeout = errors.New("clienthello: timed out waiting for the ClientHello")
)

// errPeeked stops the handshake once the ClientHello is parsed; it never leaves this package.
var errPeeked = errors.New("clienthello: peeked")

// Peek reads one ClientHello from conn, giving up at deadline. It returns what the hello says
// and every byte it read, which may run past the hello when the client sent more at once; the
// caller replays them (Replay) or writes them to an upstream before anything else. On error the
// bytes read so far are returned too. Peek sets conn's read deadline and leaves it set.
func Peek(conn net.Conn, deadline time.Time) (Hello, []byte, error) {
	if err := conn.SetReadDeadline(deadline); err != nil {
		return Hello{}, nil, fmt.Errorf("clienthello: setting the read deadline: %w", err)
	}
	rc := &recordingConn{Conn: conn}
	var hello Hello
	cfg := &tls.Config{
		GetConfigForClient: func(chi *tls.ClientHelloInfo) (*tls.Config, error) {
			hello = Hello{
				ServerName:        chi.ServerName,
				ALPN:              slices.Clone(chi.SupportedProtos),
				SupportedVersions: slices.Clone(chi.SupportedVersions),
			}
			return nil, errPeeked
		},
	}
	err := tls.Server(rc, cfg).Handshake()
	recorded := rc.buf.Bytes()
	switch {
	case errors.Is(err, errPeeked):
		return hello, recorded, nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		return Hello{}, recorded, ErrTimeout
	case rc.readErr != nil:
		// The connection failed (EOF, reset) before a whole hello arrived.
		return Hello{}, recorded, fmt.Errorf("clienthello: reading the ClientHello: %w", rc.readErr)
	}
	return Hello{}, recorded, fmt.Errorf("%w: %v", ErrNotTLS, err)
}

// recordingConn keeps every byte read and discards every write: the TLS server that parses the
// hello must not answer the client (not even with an alert).
type recordingConn struct {
	net.Conn
	buf     bytes.Buffer
	readErr error
}

func (c *recordingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.buf.Write(b[:n])
	if err != nil && c.readErr == nil {
		c.readErr = err
	}
	return n, err
}

func (c *recordingConn) Write(b []byte) (int, error) { return len(b), nil }
