package gateway

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/authz/oidc/session"
)

// TestParseSessionKeys covers the keys Secret layout: raw or base64 32-byte keys, the name that
// sorts last seals, every key opens.
func TestParseSessionKeys(t *testing.T) {
	t.Parallel()
	raw := bytes.Repeat([]byte{1}, 32)
	b64 := []byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32)) + "\n")
	tests := []struct {
		name    string
		data    map[string][]byte
		wantErr string
	}{
		{name: "raw", data: map[string][]byte{"k1": raw}},
		{name: "base64 with newline", data: map[string][]byte{"k1": b64}},
		{name: "two keys", data: map[string][]byte{"2024-01": raw, "2025-01": b64}},
		{name: "empty secret", data: map[string][]byte{}, wantErr: "no keys"},
		{name: "short key", data: map[string][]byte{"k1": raw, "weak": []byte("0123456789abcdef")}, wantErr: `key "weak"`},
		{name: "base64 of 16 bytes", data: map[string][]byte{"k1": []byte(base64.StdEncoding.EncodeToString(raw[:16]))}, wantErr: "want 32 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ring, err := parseSessionKeys(tc.data)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), string(raw)) {
					t.Fatal("error prints key material")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sealed := ring.Seal([]byte("tokens"), []byte("aad"))
			if plain, err := ring.Open(sealed, []byte("aad")); err != nil || string(plain) != "tokens" {
				t.Fatalf("round trip: %q, %v", plain, err)
			}
		})
	}
}

// TestParseSessionKeysRotation: after adding a key that sorts later, values sealed by the old
// ring still open and new values are sealed with the new key (the old ring cannot open them).
func TestParseSessionKeysRotation(t *testing.T) {
	t.Parallel()
	oldKey, newKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	before, err := parseSessionKeys(map[string][]byte{"2024-01": oldKey})
	if err != nil {
		t.Fatal(err)
	}
	after, err := parseSessionKeys(map[string][]byte{"2024-01": oldKey, "2025-01": newKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := after.Open(before.Seal([]byte("x"), nil), nil); err != nil {
		t.Errorf("a value sealed before the rotation: %v", err)
	}
	if _, err := before.Open(after.Seal([]byte("x"), nil), nil); err != session.ErrUndecryptable {
		t.Errorf("a value sealed after the rotation opened with the old key only: %v", err)
	}
}

// TestLoginRedisStore: a Redis login with a valid keys Secret is in force (the store does not
// dial at build), keeps its store across an unchanged reload, gets a new ring on the same
// connection when the keys rotate, and fails closed when the keys Secret is bad.
func TestLoginRedisStore(t *testing.T) {
	t.Parallel()
	s := newSecrets()
	s.put("oidc-client", "client-secret", []byte("s3cret"))
	s.put("session-keys", "2024-01", bytes.Repeat([]byte{1}, 32))
	g := newTestGateway(t, map[uint32]uint32{80: 0}, func(o *Options) { o.Credentials = s.store })
	doc := loginDoc("a", "istio-system", "istio: ingressgateway") + `  session:
    store: redis
    redis: {address: "127.0.0.1:1", keys: {name: session-keys}}
`
	apply := func() *loginGate {
		t.Helper()
		if err := g.Apply(snapshot(t, 1, edgeGateway, doc)); err != nil {
			t.Fatal(err)
		}
		return g.selectedLogin()
	}
	first := apply()
	if first == nil || first.broken != nil {
		t.Fatalf("redis login: %+v", first)
	}
	if _, ok := first.sessions.store.(*session.Redis); !ok || first.redisClient() == nil {
		t.Fatalf("store %T, want *session.Redis with a connection", first.sessions.store)
	}
	if again := apply(); again != first {
		t.Error("an unchanged redis login was rebuilt")
	}
	s.put("session-keys", "2024-01", bytes.Repeat([]byte{1}, 32), "2025-01", bytes.Repeat([]byte{2}, 32))
	rotated := apply()
	if rotated.broken != nil || rotated.sessions == first.sessions || rotated.redisClient() != first.redisClient() {
		t.Errorf("key rotation: broken %v, new store %v, same connection %v; want a new ring on the same connection",
			rotated.broken, rotated.sessions != first.sessions, rotated.redisClient() == first.redisClient())
	}
	s.put("session-keys", "bad", []byte("short"))
	if bad := apply(); bad.broken == nil || !strings.Contains(bad.broken.Error(), `key "bad"`) {
		t.Errorf("bad keys Secret: %v, want broken naming the key", bad.broken)
	}
}
