package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// v2 builds a version 2 header.
func v2(cmd, family byte, addrs []byte) []byte {
	b := append([]byte{}, v2Signature...)
	b = append(b, 0x20|cmd, family, 0, 0)
	binary.BigEndian.PutUint16(b[14:], uint16(len(addrs)))
	return append(b, addrs...)
}

func tcp4Addrs() []byte {
	return []byte{192, 0, 2, 1, 198, 51, 100, 2, 0x30, 0x39, 0x01, 0xbb}
}

func TestRead(t *testing.T) {
	t.Parallel()
	v6 := append(netip.MustParseAddr("2001:db8::1").AsSlice(), netip.MustParseAddr("2001:db8::2").AsSlice()...)
	v6 = append(v6, 0x30, 0x39, 0x01, 0xbb)
	tests := []struct {
		name     string
		in       string
		src, dst string // empty: no address
		wantErr  bool
	}{
		{name: "v1 tcp4", in: "PROXY TCP4 192.0.2.1 198.51.100.2 12345 443\r\nGET", src: "192.0.2.1:12345", dst: "198.51.100.2:443"},
		{name: "v1 tcp6", in: "PROXY TCP6 2001:db8::1 2001:db8::2 12345 443\r\n", src: "[2001:db8::1]:12345", dst: "[2001:db8::2]:443"},
		{name: "v1 unknown", in: "PROXY UNKNOWN\r\n"},
		{name: "v1 unknown with addresses", in: "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"},
		{name: "v1 family mismatch", in: "PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n", wantErr: true},
		{name: "v1 bad port", in: "PROXY TCP4 192.0.2.1 198.51.100.2 012 443\r\n", wantErr: true},
		{name: "v1 port out of range", in: "PROXY TCP4 192.0.2.1 198.51.100.2 65536 443\r\n", wantErr: true},
		{name: "v1 no CRLF", in: "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n", wantErr: true},
		{name: "v1 too long", in: "PROXY TCP4 " + strings.Repeat("1", 200) + "\r\n", wantErr: true},
		{name: "v1 truncated", in: "PROXY TCP4 192.0.2.1", wantErr: true},
		{name: "v2 tcp4", in: string(v2(1, 0x11, tcp4Addrs())) + "GET", src: "192.0.2.1:12345", dst: "198.51.100.2:443"},
		{name: "v2 tcp6", in: string(v2(1, 0x21, v6)), src: "[2001:db8::1]:12345", dst: "[2001:db8::2]:443"},
		{name: "v2 with TLVs", in: string(v2(1, 0x11, append(tcp4Addrs(), 0x04, 0, 1, 0))), src: "192.0.2.1:12345", dst: "198.51.100.2:443"},
		{name: "v2 local", in: string(v2(0, 0x00, nil))},
		{name: "v2 unspec", in: string(v2(1, 0x00, nil))},
		{name: "v2 short addresses", in: string(v2(1, 0x11, tcp4Addrs()[:8])), wantErr: true},
		{name: "v2 bad command", in: string(v2(2, 0x11, tcp4Addrs())), wantErr: true},
		{name: "v2 truncated", in: string(v2(1, 0x11, tcp4Addrs())[:20]), wantErr: true},
		{name: "plain HTTP", in: "GET / HTTP/1.1\r\n\r\n", wantErr: true},
		{name: "TLS", in: "\x16\x03\x01\x00\x05hello", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := bufio.NewReader(strings.NewReader(tt.in))
			h, err := Read(r)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Read: err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got := addrString(h.Source); got != tt.src {
				t.Errorf("Source = %q, want %q", got, tt.src)
			}
			if got := addrString(h.Destination); got != tt.dst {
				t.Errorf("Destination = %q, want %q", got, tt.dst)
			}
			rest, _ := io.ReadAll(r)
			if want := strings.HasSuffix(tt.in, "GET"); want != (string(rest) == "GET") {
				t.Errorf("after the header: %q", rest)
			}
		})
	}
}

func addrString(a netip.AddrPort) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func TestAcceptKeepsWhatFollows(t *testing.T) {
	t.Parallel()
	client, server := net.Pipe()
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	go func() {
		_, _ = client.Write([]byte("PROXY TCP4 192.0.2.1 198.51.100.2 12345 443\r\nhello"))
	}()
	c, err := Accept(server, time.Now().Add(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.RemoteAddr().String(); got != "192.0.2.1:12345" {
		t.Errorf("RemoteAddr = %s", got)
	}
	if got := c.LocalAddr().String(); got != "198.51.100.2:443" {
		t.Errorf("LocalAddr = %s", got)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hello" {
		t.Errorf("read %q, %v", buf, err)
	}
}

func TestAcceptGivesUpAtDeadline(t *testing.T) {
	t.Parallel()
	client, server := net.Pipe()
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	_, err := Accept(server, time.Now())
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Accept = %v, want a timeout", err)
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte("PROXY TCP4 192.0.2.1 198.51.100.2 12345 443\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add(v2(1, 0x11, tcp4Addrs()))
	f.Add(v2(0, 0, nil))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bufio.NewReader(bytes.NewReader(in))
		h, err := Read(r)
		if err != nil {
			return
		}
		if h.Source.IsValid() != h.Destination.IsValid() {
			t.Fatalf("header %+v has one address of two", h)
		}
	})
}
