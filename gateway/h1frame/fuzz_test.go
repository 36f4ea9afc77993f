package h1frame

import (
	"bytes"
	"testing"
)

// FuzzSniff feeds arbitrary client bytes through Conn, whole and in reads of a fuzzed size: it
// must never panic, must deliver only a prefix of what was sent (and the malformed line after
// a rejection), and must decide the same however the bytes were split.
func FuzzSniff(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), uint8(1))
	f.Add([]byte("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), uint8(5))
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\nGET / HTTP/1.0\r\n\r\n"), uint8(3))
	f.Add([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04"), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		whole := serve(data, len(data)+1)
		split := serve(data, 1+int(step%32))
		for _, r := range []result{whole, split} {
			if !bytes.HasPrefix(data, r.delivered) {
				t.Fatalf("delivered %q, not a prefix of %q", r.delivered, data)
			}
		}
		if whole.rejected != split.rejected || whole.reason != split.reason || (whole.err == ErrFraming) != (split.err == ErrFraming) {
			t.Fatalf("whole: rejected=%v %q err=%v; split: rejected=%v %q err=%v", whole.rejected, whole.reason, whole.err, split.rejected, split.reason, split.err)
		}
		// A rejected block is cut at its start when it is read at once, and never later than
		// where a split read cuts it.
		if whole.rejected && len(whole.delivered) > len(split.delivered) {
			t.Fatalf("whole read delivered %d bytes, split reads %d", len(whole.delivered), len(split.delivered))
		}
		if !whole.rejected && whole.err != ErrFraming && len(whole.delivered) != len(data) {
			t.Fatalf("nothing rejected, but %d of %d bytes delivered", len(whole.delivered), len(data))
		}
	})
}
