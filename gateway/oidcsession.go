package gateway

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/authz/oidc/session"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// sessionStore is an OIDCLogin's session store and what the next snapshot compares to keep it.
type sessionStore struct {
	store session.Store
	// key is what the sessions depend on, including a hash of the encryption keys (never the
	// keys themselves), so a rotated keys Secret builds a new ring.
	key string
	// redis is the connection a Redis store uses, closed once no gate uses it; nil otherwise.
	redis     *redis.Client
	redisAddr string
}

// newSessionStore is the store an OIDCLogin asks for. A Redis store reuses prev's connection
// when the address is unchanged, so a key rotation does not reconnect.
func (g *Gateway) newSessionStore(namespace string, spec *policy.OIDCLogin, key string, prev *sessionStore) (*sessionStore, error) {
	lifetimes := session.Lifetimes{Absolute: spec.Session.AbsoluteLifetime.Std(), Idle: spec.Session.IdleLifetime.Std()}
	switch spec.Session.Store {
	case policy.OIDCStoreMemory:
		return &sessionStore{key: key, store: session.NewMemory(session.MemoryOptions{Lifetimes: lifetimes})}, nil
	case policy.OIDCStoreRedis:
		rd := spec.Session.Redis
		if rd == nil {
			return nil, errors.New("redis: no spec.session.redis")
		}
		ring, err := g.sessionKeys(namespace, rd.Keys.Name)
		if err != nil {
			return nil, fmt.Errorf("redis.keys: %w", err)
		}
		out := &sessionStore{key: key, redisAddr: rd.Address}
		if prev != nil && prev.redis != nil && prev.redisAddr == rd.Address {
			out.redis = prev.redis
		} else {
			// NewRedis does not dial: a Redis that is down fails the requests that need it
			// (503, logged by the login), and they succeed again once it is back.
			out.redis = redis.NewClient(&redis.Options{Addr: rd.Address})
		}
		out.store, err = session.NewRedis(session.RedisOptions{Client: out.redis, Keys: ring, Lifetimes: lifetimes})
		if err != nil {
			if out.redis != prev.redisClient() {
				_ = out.redis.Close()
			}
			return nil, fmt.Errorf("redis: %w", err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%q is not a session store", spec.Session.Store)
}

// redisClient is s's Redis connection, nil for a nil or in-memory store.
func (s *sessionStore) redisClient() *redis.Client {
	if s == nil {
		return nil
	}
	return s.redis
}

// sessionKeys builds the key ring from the keys Secret in the login's namespace.
//
// Layout: every data key of the Secret is one AES-256 key, its value either the 32 raw bytes or
// their standard base64 (`openssl rand -base64 32`, 44 characters; a trailing newline is
// ignored). The data key's name is the key's id, stored with every sealed value. The key whose
// name sorts last seals; all of them open. So keys rotate by adding one whose name sorts after
// the others (a date, `2025-06-01`, or a zero-padded counter), and dropping the old one once the
// absolute session lifetime has passed. A Secret that is missing, empty or holds a key of the
// wrong size makes the login unusable (503), never falls back to unencrypted storage.
func (g *Gateway) sessionKeys(namespace, name string) (*session.KeyRing, error) {
	if g.opts.Credentials == nil {
		return nil, errors.New("the gateway has no credential store")
	}
	data, ok := g.opts.Credentials.SecretData(namespace, name)
	if !ok {
		return nil, fmt.Errorf("secret %s/%s not found", namespace, name)
	}
	return parseSessionKeys(data)
}

// parseSessionKeys is sessionKeys' layout, for tests. Errors name the key, never its value.
func parseSessionKeys(data map[string][]byte) (*session.KeyRing, error) {
	if len(data) == 0 {
		return nil, errors.New("secret has no keys")
	}
	names := make([]string, 0, len(data))
	for n := range data {
		names = append(names, n)
	}
	slices.Sort(names)
	slices.Reverse(names) // NewKeyRing seals with the first
	keys := make([]session.Key, 0, len(names))
	for _, n := range names {
		secret, err := aes256Key(data[n])
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", n, err)
		}
		keys = append(keys, session.Key{ID: n, Secret: secret})
	}
	return session.NewKeyRing(keys...)
}

// aes256Key reads a 32-byte key given raw or in standard base64. Only 32-byte keys are taken, so
// the two never collide: base64 of 32 bytes is 44 characters.
func aes256Key(v []byte) ([]byte, error) {
	if len(v) == 32 {
		return v, nil
	}
	text := strings.TrimSpace(string(v))
	b, err := base64.StdEncoding.DecodeString(text)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("want 32 bytes, raw or base64 (%d bytes given)", len(v))
	}
	return b, nil
}

// keysFingerprint is a hash of the keys Secret's data, so an unchanged Secret keeps the store
// and a rotated one replaces it, without keeping key material in the comparison string.
func keysFingerprint(data map[string][]byte) string {
	names := make([]string, 0, len(data))
	for n := range data {
		names = append(names, n)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%d:%s:%d:", len(n), n, len(data[n]))
		h.Write(data[n])
	}
	return hex.EncodeToString(h.Sum(nil))
}
