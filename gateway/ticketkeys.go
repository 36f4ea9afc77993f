package gateway

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// ticketKeys derives session ticket keys for TLS resumption. Keys are a function of a random
// per-process secret, the rotation epoch and a scope (the filter chain), so rotating needs no
// goroutine or state: a new epoch brings a new key, the previous ones stay to decrypt tickets
// issued before it, and a ticket issued by one chain never resumes on another (whose client
// certificate requirements may differ).
type ticketKeys struct {
	secret   [32]byte
	interval time.Duration
}

// ticketKeysKept is how many keys decrypt: the current one and the two before it.
const ticketKeysKept = 3

func newTicketKeys(interval time.Duration) *ticketKeys {
	k := &ticketKeys{interval: interval}
	if _, err := rand.Read(k.secret[:]); err != nil {
		panic("gateway: no randomness for session ticket keys: " + err.Error())
	}
	return k
}

// epoch is the rotation period now falls in.
func (k *ticketKeys) epoch(now time.Time) int64 { return now.UnixNano() / int64(k.interval) }

// keys returns the keys for a scope in an epoch, newest (the one that encrypts) first.
func (k *ticketKeys) keys(epoch int64, scope string) [][32]byte {
	out := make([][32]byte, ticketKeysKept)
	for i := range out {
		mac := hmac.New(sha256.New, k.secret[:])
		var e [8]byte
		binary.BigEndian.PutUint64(e[:], uint64(epoch-int64(i)))
		mac.Write(e[:])
		mac.Write([]byte(scope))
		copy(out[i][:], mac.Sum(nil))
	}
	return out
}
