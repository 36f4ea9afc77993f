// Package loopback hands tests the loopback ports the peers they start listen on.
package loopback

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
)

// Ports come from below the kernel's ephemeral range (32768 and up on Linux), so neither a
// listener bound to port 0 nor a client connection's source port can take one between FreePort
// and the process that binds it; handed remembers what this test binary gave out already.
const (
	firstPort = 20000
	lastPort  = 32767
)

var (
	mu     sync.Mutex
	handed = map[int]bool{}
)

// FreePort returns a loopback port that was free a moment ago and that no other caller in this
// test binary got.
func FreePort(t testing.TB) int {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	for range 1000 {
		p := firstPort + rand.IntN(lastPort-firstPort+1)
		if handed[p] {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		ln.Close()
		handed[p] = true
		return p
	}
	t.Fatal("no free loopback port below the ephemeral range")
	return 0
}
