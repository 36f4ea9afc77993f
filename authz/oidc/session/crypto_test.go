package session

import (
	"bytes"
	"errors"
	"testing"
)

func testKey(id string, b byte) Key { return Key{ID: id, Secret: bytes.Repeat([]byte{b}, 32)} }

func TestKeyRingRotation(t *testing.T) {
	t.Parallel()
	oldRing := must(NewKeyRing(testKey("k1", 1)))
	rotated := must(NewKeyRing(testKey("k2", 2), testKey("k1", 1)))
	dropped := must(NewKeyRing(testKey("k2", 2)))
	plain, aad := []byte(`{"rt":"refresh"}`), []byte("s:abc")

	sealedOld := oldRing.Seal(plain, aad)
	sealedNew := rotated.Seal(plain, aad)
	if !bytes.HasPrefix(sealedNew, []byte("\x02k2")) || !bytes.HasPrefix(sealedOld, []byte("\x02k1")) {
		t.Fatalf("key id not prefixed: %q, %q", sealedOld[:3], sealedNew[:3])
	}
	if bytes.Contains(sealedNew, plain) {
		t.Fatal("plaintext visible in the sealed value")
	}
	for _, tt := range []struct {
		name   string
		ring   *KeyRing
		sealed []byte
		aad    []byte
		ok     bool
	}{
		{"old key still opens after rotation", rotated, sealedOld, aad, true},
		{"new key opens", rotated, sealedNew, aad, true},
		{"new key seals: old ring cannot open", oldRing, sealedNew, aad, false},
		{"dropped key no longer opens", dropped, sealedOld, aad, false},
		{"bound to its record", rotated, sealedNew, []byte("s:other"), false},
		{"tampered", rotated, append(bytes.Clone(sealedNew[:len(sealedNew)-1]), sealedNew[len(sealedNew)-1]^1), aad, false},
		{"truncated", rotated, sealedNew[:5], aad, false},
		{"empty", rotated, nil, aad, false},
		{"id length beyond the value", rotated, []byte{200, 'k'}, aad, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.ring.Open(tt.sealed, tt.aad)
			if tt.ok && (err != nil || !bytes.Equal(got, plain)) {
				t.Fatalf("Open = %q, %v; want %q", got, err, plain)
			}
			if !tt.ok && !errors.Is(err, ErrUndecryptable) {
				t.Fatalf("Open = %q, %v; want ErrUndecryptable", got, err)
			}
		})
	}
	if a, b := rotated.Seal(plain, aad), rotated.Seal(plain, aad); bytes.Equal(a, b) {
		t.Error("two seals of one value are equal: nonce reused")
	}
}

func TestNewKeyRingRejects(t *testing.T) {
	t.Parallel()
	for name, keys := range map[string][]Key{
		"none":        nil,
		"empty id":    {{ID: "", Secret: make([]byte, 32)}},
		"short key":   {{ID: "k", Secret: make([]byte, 10)}},
		"repeated id": {testKey("k", 1), testKey("k", 2)},
	} {
		if _, err := NewKeyRing(keys...); err == nil {
			t.Errorf("%s: want an error", name)
		} else if bytes.Contains([]byte(err.Error()), []byte{1, 1, 1}) {
			t.Errorf("%s: error shows key material: %v", name, err)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
