// Package proxyproto reads the PROXY protocol header (HAProxy's versions 1 and 2) that an L4 load
// balancer puts in front of a TCP connection to tell the server who the client is. It only reads:
// the gateway never sends the header on.
package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// v2Signature starts every version 2 header.
var v2Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")

// Limits from the specification: a v1 line is at most 107 bytes with its CRLF; a v2 header is
// 16 bytes plus a length the gateway bounds so that a client cannot make it read without end.
const (
	maxV1Line      = 107
	maxV2Addresses = 2048
)

// ErrInvalid is wrapped by every error about a malformed header.
var ErrInvalid = errors.New("invalid PROXY protocol header")

// Header is what a PROXY header says. Source and Destination are invalid for a LOCAL (v2) or
// UNKNOWN (v1) header, whose connection is the load balancer's own (a health check): the
// connection's addresses stand.
type Header struct {
	Version     int
	Source      netip.AddrPort
	Destination netip.AddrPort
}

// Conn is a connection whose PROXY header has been read: RemoteAddr and LocalAddr are the
// client's and the address it connected to, when the header gave them.
type Conn struct {
	net.Conn
	r      io.Reader
	header Header
}

// Read reads what followed the header.
func (c *Conn) Read(b []byte) (int, error) { return c.r.Read(b) }

// CloseWrite half-closes the connection when the one underneath can, as a *net.TCPConn does.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// Header returns the header read from the connection.
func (c *Conn) Header() Header { return c.header }

// RemoteAddr is the client's address from the header, else the connection's.
func (c *Conn) RemoteAddr() net.Addr {
	if c.header.Source.IsValid() {
		return net.TCPAddrFromAddrPort(c.header.Source)
	}
	return c.Conn.RemoteAddr()
}

// LocalAddr is the address the client connected to from the header, else the connection's.
func (c *Conn) LocalAddr() net.Addr {
	if c.header.Destination.IsValid() {
		return net.TCPAddrFromAddrPort(c.header.Destination)
	}
	return c.Conn.LocalAddr()
}

// Accept reads the header from a new connection before deadline and returns the connection
// that serves what follows it. A connection without a valid header gives an error; the caller
// closes it. The read deadline is cleared on success.
func Accept(c net.Conn, deadline time.Time) (*Conn, error) {
	if err := c.SetReadDeadline(deadline); err != nil {
		return nil, fmt.Errorf("proxy protocol: %w", err)
	}
	br := bufio.NewReaderSize(c, 256)
	h, err := Read(br)
	if err != nil {
		return nil, err
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("proxy protocol: %w", err)
	}
	pc := &Conn{Conn: c, header: h, r: br}
	if br.Buffered() == 0 {
		// Nothing was read past the header: read the socket directly again.
		pc.r = c
	}
	return pc, nil
}

// Read reads one header of either version from r, consuming nothing after it.
func Read(r *bufio.Reader) (Header, error) {
	// The first byte tells the versions apart; a v1 header can be shorter than v2's signature.
	first, err := r.Peek(1)
	if err != nil {
		return Header{}, fmt.Errorf("proxy protocol: reading header: %w", err)
	}
	want := v2Signature
	if first[0] == 'P' {
		want = []byte("PROXY ")
	}
	sig, err := r.Peek(len(want))
	if err != nil {
		return Header{}, fmt.Errorf("proxy protocol: reading header: %w", err)
	}
	switch {
	case !bytes.Equal(sig, want):
		return Header{}, fmt.Errorf("%w: no PROXY signature", ErrInvalid)
	case first[0] == 'P':
		return readV1(r)
	}
	return readV2(r)
}

// readV1 parses "PROXY TCP4|TCP6 src dst sport dport\r\n" or "PROXY UNKNOWN ...\r\n".
func readV1(r *bufio.Reader) (Header, error) {
	var line []byte
	for {
		c, err := r.ReadByte()
		if err != nil {
			return Header{}, fmt.Errorf("proxy protocol v1: %w", err)
		}
		line = append(line, c)
		if c == '\n' {
			break
		}
		if len(line) >= maxV1Line {
			return Header{}, fmt.Errorf("%w: v1 line longer than %d bytes", ErrInvalid, maxV1Line)
		}
	}
	s, ok := strings.CutSuffix(string(line), "\r\n")
	if !ok {
		return Header{}, fmt.Errorf("%w: v1 line does not end in CRLF", ErrInvalid)
	}
	f := strings.Split(s, " ")
	h := Header{Version: 1}
	if len(f) >= 2 && f[1] == "UNKNOWN" {
		return h, nil
	}
	if len(f) != 6 || (f[1] != "TCP4" && f[1] != "TCP6") {
		return Header{}, fmt.Errorf("%w: v1 line %q", ErrInvalid, s)
	}
	src, err := v1AddrPort(f[2], f[4], f[1] == "TCP4")
	if err != nil {
		return Header{}, err
	}
	dst, err := v1AddrPort(f[3], f[5], f[1] == "TCP4")
	if err != nil {
		return Header{}, err
	}
	h.Source, h.Destination = src, dst
	return h, nil
}

func v1AddrPort(addr, port string, v4 bool) (netip.AddrPort, error) {
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Is4() != v4 || a.Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("%w: v1 address %q", ErrInvalid, addr)
	}
	// No sign and no leading zero, as the specification writes ports.
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || port[0] == '+' || (len(port) > 1 && port[0] == '0') {
		return netip.AddrPort{}, fmt.Errorf("%w: v1 port %q", ErrInvalid, port)
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}

// readV2 parses the binary header: signature, version/command, family/protocol, length, then
// the addresses (and TLVs, which the gateway skips).
func readV2(r *bufio.Reader) (Header, error) {
	var fixed [16]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return Header{}, fmt.Errorf("proxy protocol v2: %w", err)
	}
	if fixed[12]>>4 != 2 {
		return Header{}, fmt.Errorf("%w: v2 version %d", ErrInvalid, fixed[12]>>4)
	}
	n := int(binary.BigEndian.Uint16(fixed[14:]))
	if n > maxV2Addresses {
		return Header{}, fmt.Errorf("%w: v2 length %d over %d", ErrInvalid, n, maxV2Addresses)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return Header{}, fmt.Errorf("proxy protocol v2: %w", err)
	}
	h := Header{Version: 2}
	switch cmd := fixed[12] & 0x0f; cmd {
	case 0x0: // LOCAL
		return h, nil
	case 0x1: // PROXY
	default:
		return Header{}, fmt.Errorf("%w: v2 command %d", ErrInvalid, cmd)
	}
	var size int
	switch fixed[13] {
	case 0x11: // TCP over IPv4
		size = 4
	case 0x21: // TCP over IPv6
		size = 16
	default:
		// UNSPEC, UDP and unix sockets carry no TCP client address: keep the connection's.
		return h, nil
	}
	if n < 2*size+4 {
		return Header{}, fmt.Errorf("%w: v2 length %d too short for its addresses", ErrInvalid, n)
	}
	src, _ := netip.AddrFromSlice(body[:size])
	dst, _ := netip.AddrFromSlice(body[size : 2*size])
	h.Source = netip.AddrPortFrom(src, binary.BigEndian.Uint16(body[2*size:]))
	h.Destination = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(body[2*size+2:]))
	return h, nil
}
