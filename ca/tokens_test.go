package ca

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
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
			tok := NewTokens(filepath.Join(t.TempDir(), "ledger.json"))
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
	ledger := filepath.Join(t.TempDir(), "state", "ledger.json")
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
	var onDisk map[string]int
	if err := json.Unmarshal(readFile(t, ledger), &onDisk); err != nil || len(onDisk) != 2 {
		t.Fatalf("ledger contents %v, %v", onDisk, err)
	}
	for k := range onDisk {
		if len(k) != 64 {
			t.Errorf("ledger key %q is not a sha256 hex", k)
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
	ledger := filepath.Join(t.TempDir(), "ledger.json")
	if err := os.WriteFile(ledger, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	tok := NewTokens(ledger)
	tok.Apply([]TokenSpec{{Token: []byte("t"), MaxUses: 1}})
	if _, err := tok.Redeem(context.Background(), "t"); err == nil {
		t.Fatal("redeemed against a corrupt ledger")
	}
}
