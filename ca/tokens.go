package ca

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// TokenSpec is one declared bootstrap token (policy's BootstrapToken, resolved).
type TokenSpec struct {
	Name     string // namespace/name of the BootstrapToken, for logs
	Identity Identity
	Token    []byte
	MaxUses  int       // <= 0 means 1: one-time
	Expires  time.Time // zero: never
}

// Tokens redeems bootstrap tokens. Every use is appended to a ledger file, one line of the
// token's sha256-hex per use, and synced to disk before the redemption succeeds, so a one-time
// token stays spent across restarts and a failed write refuses the token. Redemptions that
// arrive together share one write and one fsync (group commit): the disk, not the CA, would
// otherwise bound how many first certificates a second can be issued.
type Tokens struct {
	ledgerFile string
	now        func() time.Time

	mu       sync.Mutex
	byHash   map[[sha256.Size]byte]tokenEntry
	uses     map[string]int
	loadErr  error // a ledger that cannot be read refuses every token: fail closed
	next     *ledgerBatch
	flushing bool
	file     *os.File // opened for appending at the first write
	// torn is the length of the ledger's complete lines when its last line was cut short: the
	// first write truncates the rest, so the next line starts clean.
	torn int64
}

type tokenEntry struct {
	hex      string
	name     string
	identity Identity
	maxUses  int
	expires  time.Time
}

// ledgerBatch is the uses waiting for one write and sync; done is closed once err is known.
type ledgerBatch struct {
	lines bytes.Buffer
	done  chan struct{}
	err   error
}

// NewTokens returns Tokens whose use counts persist in ledgerFile. A missing file is an empty
// ledger; an unreadable or corrupt one makes every Redeem fail until it is repaired. A last line
// cut short (a crash mid-write) is ignored: its redemption was never acknowledged.
func NewTokens(ledgerFile string) *Tokens {
	t := &Tokens{ledgerFile: ledgerFile, now: time.Now, uses: map[string]int{}, torn: -1}
	data, err := os.ReadFile(ledgerFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		t.loadErr = fmt.Errorf("token ledger %s: %w", ledgerFile, err)
	default:
		t.loadErr = t.load(data)
	}
	return t
}

func (t *Tokens) load(data []byte) error {
	if i := bytes.LastIndexByte(data, '\n'); i+1 < len(data) {
		data = data[:i+1]
		t.torn = int64(len(data))
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if _, err := hex.DecodeString(line); err != nil || len(line) != 2*sha256.Size {
			return fmt.Errorf("token ledger %s: line %d is not a sha256 hex", t.ledgerFile, n)
		}
		t.uses[line]++
	}
	return sc.Err()
}

// Apply replaces the declared tokens. Uses already counted stay in the ledger, so declaring a
// spent token again does not revive it.
func (t *Tokens) Apply(list []TokenSpec) {
	byHash := make(map[[sha256.Size]byte]tokenEntry, len(list))
	for _, s := range list {
		sum := sha256.Sum256(s.Token)
		e := tokenEntry{hex: hex.EncodeToString(sum[:]), name: s.Name, identity: s.Identity, maxUses: s.MaxUses, expires: s.Expires}
		if e.maxUses <= 0 {
			e.maxUses = 1
		}
		byHash[sum] = e
	}
	t.mu.Lock()
	t.byHash = byHash
	t.mu.Unlock()
}

// Errors of Redeem, for logs; the server answers Unauthenticated to all of them alike.
var (
	errTokenUnknown = errors.New("unknown token")
	errTokenExpired = errors.New("token expired")
	errTokenUsedUp  = errors.New("token used up")
)

// Redeem implements TokenRedeemer: it spends one use of token and returns the identity it binds.
// Tokens are found by their SHA-256, so the time taken says nothing about how near a guess is.
func (t *Tokens) Redeem(_ context.Context, token string) (Identity, error) {
	sum := sha256.Sum256([]byte(token))
	t.mu.Lock()
	if t.loadErr != nil {
		t.mu.Unlock()
		return Identity{}, t.loadErr
	}
	e, ok := t.byHash[sum]
	if !ok {
		t.mu.Unlock()
		return Identity{}, errTokenUnknown
	}
	if !e.expires.IsZero() && !t.now().Before(e.expires) {
		t.mu.Unlock()
		return Identity{}, fmt.Errorf("%s: %w at %s", e.name, errTokenExpired, e.expires.UTC().Format(time.RFC3339))
	}
	used := t.uses[e.hex]
	if used >= e.maxUses {
		t.mu.Unlock()
		return Identity{}, fmt.Errorf("%s: %w (%d of %d)", e.name, errTokenUsedUp, used, e.maxUses)
	}
	// The use is reserved now, so concurrent redemptions of a one-time token cannot both pass,
	// and given back if the ledger cannot record it.
	t.uses[e.hex] = used + 1
	b := t.enqueue(e.hex)
	t.mu.Unlock()

	<-b.done
	if b.err != nil {
		t.mu.Lock()
		t.uses[e.hex]--
		t.mu.Unlock()
		return Identity{}, fmt.Errorf("%s: %w", e.name, b.err)
	}
	return e.identity, nil
}

// enqueue adds one use to the batch being gathered and starts a flusher when none runs; t.mu
// is held.
func (t *Tokens) enqueue(hexSum string) *ledgerBatch {
	if t.next == nil {
		t.next = &ledgerBatch{done: make(chan struct{})}
	}
	b := t.next
	b.lines.WriteString(hexSum)
	b.lines.WriteByte('\n')
	if !t.flushing {
		t.flushing = true
		go t.flush()
	}
	return b
}

// flush writes and syncs batches until none is waiting: while one batch is on its way to disk
// the next gathers every redemption that arrives meanwhile.
func (t *Tokens) flush() {
	for {
		t.mu.Lock()
		b := t.next
		t.next = nil
		if b == nil {
			t.flushing = false
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()
		b.err = t.append(b.lines.Bytes())
		close(b.done)
	}
}

// append writes lines to the ledger and syncs it. Only the flusher calls it.
func (t *Tokens) append(lines []byte) error {
	if t.file == nil {
		if err := os.MkdirAll(filepath.Dir(t.ledgerFile), 0o700); err != nil {
			return fmt.Errorf("token ledger %s: %w", t.ledgerFile, err)
		}
		f, err := os.OpenFile(t.ledgerFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("token ledger %s: %w", t.ledgerFile, err)
		}
		if t.torn >= 0 {
			if err := f.Truncate(t.torn); err != nil {
				_ = f.Close()
				return fmt.Errorf("token ledger %s: dropping a line cut short: %w", t.ledgerFile, err)
			}
		}
		t.file = f
	}
	if _, err := t.file.Write(lines); err != nil {
		return fmt.Errorf("token ledger %s: %w", t.ledgerFile, err)
	}
	if err := t.file.Sync(); err != nil {
		return fmt.Errorf("token ledger %s: %w", t.ledgerFile, err)
	}
	return nil
}

var _ TokenRedeemer = (*Tokens)(nil)
