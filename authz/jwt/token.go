package jwt

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"math"
	"strings"
)

// maxTokenBytes bounds what is parsed at all. Envoy has no limit of its own beyond the 60 KiB
// request-header limit; real tokens with large group claims stay under 16 KiB, and refusing
// larger ones before any base64 or JSON work keeps a hostile header from costing more than a scan.
const maxTokenBytes = 16 << 10

// token is a parsed, not yet verified, JWT. Field checks follow jwt_verify_lib's Jwt::parseFromString
// so that a malformed token gets the same reason Envoy gives.
type token struct {
	raw          string
	signingInput string // "header.payload" exactly as sent: what the signature covers
	payloadB64   string // the payload section as sent: Envoy's forward_payload_header value
	alg, kid     string
	signature    []byte

	iss, sub, azp string
	aud           []string
	nbf, exp      uint64
	claims        map[string]any
}

// implementedAlgs is jwt_verify_lib's list. HS* parse here exactly as in Envoy; they can never
// verify because keyset never holds a symmetric key (see keyset.go).
var implementedAlgs = map[string]bool{
	"ES256": true, "ES384": true, "ES512": true,
	"HS256": true, "HS384": true, "HS512": true,
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"EdDSA": true,
}

func parseToken(raw string) (*token, status) {
	if len(raw) > maxTokenBytes {
		return nil, statusVerificationFail
	}
	// Exactly three non-empty sections. Envoy skips empty sections, which lets "h.p.s." through;
	// being stricter here only refuses tokens no issuer produces.
	h, rest, ok1 := strings.Cut(raw, ".")
	p, s, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || h == "" || p == "" || s == "" || strings.IndexByte(s, '.') >= 0 {
		return nil, statusBadFormat
	}
	t := &token{raw: raw, signingInput: raw[:len(h)+1+len(p)], payloadB64: p}

	headerJSON, err := decodeSegment(h)
	if err != nil {
		return nil, statusHeaderBadBase64
	}
	var header map[string]any
	if !decodeObject(headerJSON, &header) {
		return nil, statusHeaderBadJSON
	}
	alg, ok := header["alg"].(string)
	if !ok {
		return nil, statusHeaderBadAlg
	}
	if !implementedAlgs[alg] {
		return nil, statusHeaderNotImplementedAlg
	}
	t.alg = alg
	if v, present := header["kid"]; present {
		kid, ok := v.(string)
		if !ok {
			return nil, statusHeaderBadKid
		}
		t.kid = kid
	}

	payloadJSON, err := decodeSegment(p)
	if err != nil {
		return nil, statusPayloadBadBase64
	}
	if !decodeObject(payloadJSON, &t.claims) {
		return nil, statusPayloadBadJSON
	}
	if st := t.readRegisteredClaims(); st != statusOK {
		return nil, st
	}

	if t.signature, err = decodeSegment(s); err != nil {
		return nil, statusSignatureBadBase64
	}
	return t, statusOK
}

func (t *token) readRegisteredClaims() status {
	var ok bool
	if t.iss, ok = optionalString(t.claims, "iss"); !ok {
		return statusIssNotString
	}
	if t.sub, ok = optionalString(t.claims, "sub"); !ok {
		return statusSubNotString
	}
	if _, st := optionalUint(t.claims, "iat", statusIatNotInteger, statusIatOutOfRange); st != statusOK {
		return st
	}
	var st status
	if t.nbf, st = optionalUint(t.claims, "nbf", statusNbfNotInteger, statusNbfOutOfRange); st != statusOK {
		return st
	}
	if t.exp, st = optionalUint(t.claims, "exp", statusExpNotInteger, statusExpOutOfRange); st != statusOK {
		return st
	}
	if _, ok = optionalString(t.claims, "jti"); !ok {
		return statusJtiNotString
	}
	// azp is not checked by Envoy; a non-string one is simply not a presenter.
	t.azp, _ = t.claims["azp"].(string)
	switch aud := t.claims["aud"].(type) {
	case nil:
		if _, present := t.claims["aud"]; present {
			return statusAudNotString
		}
	case string:
		t.aud = []string{aud}
	case []any:
		t.aud = make([]string, 0, len(aud))
		for _, a := range aud {
			s, ok := a.(string)
			if !ok {
				return statusAudNotString
			}
			t.aud = append(t.aud, s)
		}
	default:
		return statusAudNotString
	}
	return statusOK
}

// decodeSegment accepts base64url with or without padding, as absl's WebSafeBase64Unescape does.
func decodeSegment(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// decodeObject wants exactly one JSON object: trailing bytes after it are a parse error, as they
// are for protobuf's JSON parser in Envoy.
func decodeObject(data []byte, into *map[string]any) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(into); err != nil || *into == nil {
		return false
	}
	_, err := dec.Token()
	return err == io.EOF
}

func optionalString(claims map[string]any, name string) (string, bool) {
	v, present := claims[name]
	if !present {
		return "", true
	}
	s, ok := v.(string)
	return s, ok
}

// optionalUint reads a NumericDate as jwt_verify_lib's GetUInt64 does: a number, not negative,
// below 2^64; a fraction is truncated.
func optionalUint(claims map[string]any, name string, notInteger, outOfRange status) (uint64, status) {
	v, present := claims[name]
	if !present {
		return 0, statusOK
	}
	f, ok := v.(float64)
	if !ok {
		return 0, notInteger
	}
	if f < 0 || f >= math.MaxUint64 || math.IsNaN(f) {
		return 0, outOfRange
	}
	return uint64(f), statusOK
}
