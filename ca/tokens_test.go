package ca

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestTokensRedeem(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	web := Identity{Namespace: "apps", ServiceAccount: "web"}
	tests := []struct {
		name    string
		spec    TokenSpec
		redeem  []string
		wantErr []error // per redemption, nil = ok
	}{
		{"one-time", TokenSpec{Token: []byte("t1"), MaxUses: 1}, []string{"t1", "t1"}, []error{nil, errTokenUsedUp}},
		{"zero uses means one", TokenSpec{Token: []byte("t1")}, []string{"t1", "t1"}, []error{nil, errTokenUsedUp}},
		{"bounded", TokenSpec{Token: []byte("t3"), MaxUses: 3}, []string{"t3", "t3", "t3", "t3"}, []error{nil, nil, nil, errTokenUsedUp}},
		{"unknown", TokenSpec{Token: []byte("t1")}, []string{"t2", ""}, []error{errTokenUnknown, errTokenUnknown}},
		{"expired", TokenSpec{Token: []byte("t1"), Expires: now}, []string{"t1"}, []error{errTokenExpired}},
		{"not yet expired", TokenSpec{Token: []byte("t1"), Expires: now.Add(time.Second)}, []string{"t1"}, []error{nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok := NewTokens(filepath.Join(t.TempDir(), "ledger"))
			tok.now = func() time.Time { return now }
			tt.spec.Identity = web
			tok.Apply([]TokenSpec{tt.spec})
			for i, r := range tt.redeem {
				id, err := tok.Redeem(context.Background(), r)
				if !errors.Is(err, tt.wantErr[i]) || (err == nil) != (tt.wantErr[i] == nil) {
					t.Fatalf("redeem %d: err = %v, want %v", i, err, tt.wantErr[i])
				}
				if err == nil && id != web {
					t.Fatalf("redeem %d: identity %v", i, id)
				}
			}
		})
	}
}

func TestTokensLedgerPersists(t *testing.T) {
	t.Parallel()
	ledger := filepath.Join(t.TempDir(), "state", "ledger")
	specs := []TokenSpec{
		{Name: "apps/web", Identity: Identity{Namespace: "apps", ServiceAccount: "web"}, Token: []byte("one-time-token-0123"), MaxUses: 1},
		{Name: "apps/db", Identity: Identity{Namespace: "apps", ServiceAccount: "db"}, Token: []byte("bounded-token-0123"), MaxUses: 2},
	}
	first := NewTokens(ledger)
	first.Apply(specs)
	for _, tok := range []string{"one-time-token-0123", "bounded-token-0123"} {
		if _, err := first.Redeem(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := os.Stat(ledger); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("ledger: %v, %v", st, err)
	}
	lines := strings.Split(strings.TrimSuffix(string(readFile(t, ledger)), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("ledger holds %d uses, want 2: %q", len(lines), lines)
	}
	for _, l := range lines {
		if len(l) != 64 || strings.Contains(l, "token") {
			t.Errorf("ledger line %q is not a sha256 hex", l)
		}
	}

	// A restart: the one-time token stays spent, the bounded one has one use left.
	second := NewTokens(ledger)
	second.Apply(specs)
	if _, err := second.Redeem(context.Background(), "one-time-token-0123"); !errors.Is(err, errTokenUsedUp) {
		t.Errorf("one-time token after restart: err = %v, want used up", err)
	}
	if _, err := second.Redeem(context.Background(), "bounded-token-0123"); err != nil {
		t.Errorf("bounded token second use: %v", err)
	}
	if _, err := second.Redeem(context.Background(), "bounded-token-0123"); !errors.Is(err, errTokenUsedUp) {
		t.Errorf("bounded token third use: err = %v, want used up", err)
	}
	// Declaring a spent token again does not revive it.
	second.Apply(specs[:1])
	if _, err := second.Redeem(context.Background(), "one-time-token-0123"); !errors.Is(err, errTokenUsedUp) {
		t.Errorf("re-applied spent token: err = %v", err)
	}
}

func TestTokensCorruptLedgerFailsClosed(t *testing.T) {
	t.Parallel()
	ledger := filepath.Join(t.TempDir(), "ledger")
	if err := os.WriteFile(ledger, []byte("{not a hash\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tok := NewTokens(ledger)
	tok.Apply([]TokenSpec{{Token: []byte("t"), MaxUses: 1}})
	if _, err := tok.Redeem(context.Background(), "t"); err == nil {
		t.Fatal("redeemed against a corrupt ledger")
	}
}

// TestTokensConcurrent: many redemptions at once share writes, every use is on disk, and a
// bounded token is never spent past its bound however the redemptions race; a line cut short
// by a crash is ignored at the next start.
func TestTokensConcurrent(t *testing.T) {
	t.Parallel()
	ledger := filepath.Join(t.TempDir(), "ledger")
	tok := NewTokens(ledger)
	tok.Apply([]TokenSpec{
		{Name: "apps/many", Identity: Identity{Namespace: "apps", ServiceAccount: "many"}, Token: []byte("many-uses-token-0123"), MaxUses: 1000},
		{Name: "apps/five", Identity: Identity{Namespace: "apps", ServiceAccount: "five"}, Token: []byte("five-uses-token-0123"), MaxUses: 5},
	})
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if _, err := tok.Redeem(context.Background(), "many-uses-token-0123"); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if _, err := tok.Redeem(context.Background(), "five-uses-token-0123"); err == nil {
				ok.Add(1)
			} else if errors.Is(err, errTokenUsedUp) {
				refused.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 5 || refused.Load() != 95 {
		t.Errorf("bounded token: %d redeemed, %d refused; want 5 and 95", ok.Load(), refused.Load())
	}
	if n := strings.Count(string(readFile(t, ledger)), "\n"); n != 105 {
		t.Errorf("ledger holds %d uses, want 105", n)
	}
	f, err := os.OpenFile(ledger, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("abc123") // a crash mid-line
	_ = f.Close()
	again := NewTokens(ledger)
	again.Apply([]TokenSpec{{Name: "apps/five", Token: []byte("five-uses-token-0123"), MaxUses: 6}})
	if _, err := again.Redeem(context.Background(), "five-uses-token-0123"); err != nil {
		t.Errorf("after a torn last line, the sixth use: %v", err)
	}
	third := NewTokens(ledger)
	third.Apply([]TokenSpec{{Name: "apps/five", Token: []byte("five-uses-token-0123"), MaxUses: 6}})
	if _, err := third.Redeem(context.Background(), "five-uses-token-0123"); !errors.Is(err, errTokenUsedUp) {
		t.Errorf("after the torn line was dropped and a use written, a seventh use: %v, want used up", err)
	}
}
