package clienthello

import "net"

// Conn is a connection whose first reads return bytes already read from it (a peeked
// ClientHello), then continue from the connection itself. Writes, deadlines and Close go to the
// connection.
type Conn struct {
	net.Conn
	prefix []byte
}

// Replay returns conn with prefix put back in front of what is still to be read.
func Replay(conn net.Conn, prefix []byte) *Conn {
	return &Conn{Conn: conn, prefix: prefix}
}

func (c *Conn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// NetConn returns the underlying connection, which has already been read past the prefix.
func (c *Conn) NetConn() net.Conn { return c.Conn }
