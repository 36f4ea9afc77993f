package ca

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
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

// Tokens redeems bootstrap tokens. Each use is counted in a ledger file (JSON object of
// sha256-hex of the token → uses) written atomically before the redemption succeeds, so a
// one-time token stays spent across restarts and a failed write refuses the token.
type Tokens struct {
	ledgerFile string
	now        func() time.Time

	mu      sync.Mutex
	tokens  []tokenEntry
	ledger  map[string]int
	loadErr error // a ledger that cannot be read refuses every token: fail closed
}

type tokenEntry struct {
	sum      [sha256.Size]byte
	hex      string
	name     string
	identity Identity
	maxUses  int
	expires  time.Time
}

// NewTokens returns Tokens whose use counts persist in ledgerFile. A missing file is an empty
// ledger; an unreadable or corrupt one makes every Redeem fail until it is repaired.
func NewTokens(ledgerFile string) *Tokens {
	t := &Tokens{ledgerFile: ledgerFile, now: time.Now, ledger: map[string]int{}}
	data, err := os.ReadFile(ledgerFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		t.loadErr = fmt.Errorf("token ledger %s: %w", ledgerFile, err)
	default:
		if err := json.Unmarshal(data, &t.ledger); err != nil {
			t.loadErr = fmt.Errorf("token ledger %s: %w", ledgerFile, err)
		}
	}
	return t
}

// Apply replaces the declared tokens. Uses already counted stay in the ledger, so declaring a
// spent token again does not revive it.
func (t *Tokens) Apply(list []TokenSpec) {
	entries := make([]tokenEntry, 0, len(list))
	for _, s := range list {
		sum := sha256.Sum256(s.Token)
		e := tokenEntry{sum: sum, hex: hex.EncodeToString(sum[:]), name: s.Name, identity: s.Identity, maxUses: s.MaxUses, expires: s.Expires}
		if e.maxUses <= 0 {
			e.maxUses = 1
		}
		entries = append(entries, e)
	}
	t.mu.Lock()
	t.tokens = entries
	t.mu.Unlock()
}

// Errors of Redeem, for logs; the server answers Unauthenticated to all of them alike.
var (
	errTokenUnknown = errors.New("unknown token")
	errTokenExpired = errors.New("token expired")
	errTokenUsedUp  = errors.New("token used up")
)

// Redeem implements TokenRedeemer: it spends one use of token and returns the identity it binds.
func (t *Tokens) Redeem(_ context.Context, token string) (Identity, error) {
	sum := sha256.Sum256([]byte(token))
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.loadErr != nil {
		return Identity{}, t.loadErr
	}
	// Compare against every entry, in constant time, so the time taken says nothing about
	// which declared token is nearest.
	match := -1
	for i := range t.tokens {
		if subtle.ConstantTimeCompare(sum[:], t.tokens[i].sum[:]) == 1 && match < 0 {
			match = i
		}
	}
	if match < 0 {
		return Identity{}, errTokenUnknown
	}
	e := t.tokens[match]
	if !e.expires.IsZero() && !t.now().Before(e.expires) {
		return Identity{}, fmt.Errorf("%s: %w at %s", e.name, errTokenExpired, e.expires.UTC().Format(time.RFC3339))
	}
	used := t.ledger[e.hex]
	if used >= e.maxUses {
		return Identity{}, fmt.Errorf("%s: %w (%d of %d)", e.name, errTokenUsedUp, used, e.maxUses)
	}
	t.ledger[e.hex] = used + 1
	if err := t.save(); err != nil {
		t.ledger[e.hex] = used
		return Identity{}, fmt.Errorf("%s: %w", e.name, err)
	}
	return e.identity, nil
}

// save writes the ledger atomically; t.mu is held.
func (t *Tokens) save() error {
	data, err := json.Marshal(t.ledger)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(t.ledgerFile), 0o700); err != nil {
		return fmt.Errorf("token ledger %s: %w", t.ledgerFile, err)
	}
	if err := writeFileAtomic(t.ledgerFile, data, 0o600); err != nil {
		return fmt.Errorf("token ledger %s: %w", t.ledgerFile, err)
	}
	return nil
}

var _ TokenRedeemer = (*Tokens)(nil)
