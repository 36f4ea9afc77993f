package validation

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// jwkMembers lists, per key type, the members a public JWK must carry (RFC 7518 section 6, RFC
// 8037 for OKP), all base64url strings except the curve name.
var jwkMembers = map[string][]string{
	"RSA": {"n", "e"},
	"EC":  {"crv", "x", "y"},
	"oct": {"k"},
	"OKP": {"crv", "x"},
}

var jwkCurves = map[string]map[string]bool{
	"EC":  {"P-256": true, "P-384": true, "P-521": true},
	"OKP": {"Ed25519": true, "Ed448": true, "X25519": true, "X448": true},
}

// validateInlineJWKS checks the structure of an inline key set the way a JWK parser would read
// it: a JSON object that is either a set ({"keys": [...]}) or a single key. It does not check the
// key material beyond its encoding: a key that parses but cannot verify anything is the issuer's
// problem, not a configuration error.
func validateInlineJWKS(field, jwks string, r *report) {
	reason, noKeys := jwksProblem(jwks)
	if reason != "" {
		r.errorf(field, "jwks parse error: %s", reason)
		return
	}
	if noKeys {
		r.warnf(field, "jwks has no keys: no token can be verified with this rule")
	}
}

func jwksProblem(jwks string) (reason string, noKeys bool) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(jwks), &doc); err != nil {
		return fmt.Sprintf("not a JSON object: %v", err), false
	}
	raw, isSet := doc["keys"]
	if !isSet {
		return jwkProblem(doc), false
	}
	var keys []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return `"keys" must be an array of JSON objects`, false
	}
	for i, k := range keys {
		if p := jwkProblem(k); p != "" {
			return fmt.Sprintf("keys[%d]: %s", i, p), false
		}
	}
	return "", len(keys) == 0
}

func jwkProblem(key map[string]json.RawMessage) string {
	kty, ok := jwkString(key, "kty")
	if !ok || kty == "" {
		return `missing "kty" (key type)`
	}
	members, known := jwkMembers[kty]
	if !known {
		return fmt.Sprintf("unsupported key type %q", kty)
	}
	for _, m := range members {
		v, ok := jwkString(key, m)
		switch {
		case !ok || v == "":
			return fmt.Sprintf("%s key is missing member %q", kty, m)
		case m == "crv":
			if !jwkCurves[kty][v] {
				return fmt.Sprintf("%s key has unsupported curve %q", kty, v)
			}
		case !isBase64URL(v):
			return fmt.Sprintf("%s key member %q is not base64url", kty, m)
		}
	}
	return ""
}

// jwkString returns a member that must be a JSON string; a member of another type reads as absent.
func jwkString(key map[string]json.RawMessage, name string) (string, bool) {
	raw, ok := key[name]
	if !ok {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// isBase64URL is lenient about padding, as issuers' key sets are in the wild.
func isBase64URL(s string) bool {
	_, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	return err == nil
}
