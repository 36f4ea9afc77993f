package clienthello

import (
	"bytes"
	"testing"
	"time"
)

// FuzzPeek feeds arbitrary bytes to Peek, once followed by EOF and once by silence: it must
// never panic, must return by its deadline, and must only report bytes that were sent.
func FuzzPeek(f *testing.F) {
	f.Add(clientHello(f, "shop.example.com", "h2", "http/1.1"))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, keepOpen := range []bool{false, true} {
			conn := pipe(t, data, keepOpen)
			done := make(chan struct{})
			var recorded []byte
			go func() {
				defer close(done)
				_, recorded, _ = Peek(conn, time.Now().Add(10*time.Millisecond))
			}()
			// A hang detector, not a timing assertion: Peek's deadline is far shorter.
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("Peek did not return (keepOpen=%v)", keepOpen)
			}
			if !bytes.HasPrefix(data, recorded) {
				t.Fatalf("recorded %d bytes that were not sent", len(recorded))
			}
		}
	})
}
