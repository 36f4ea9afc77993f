package acmecert

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
)

// Cache key layout. Names are file names in a DirCache, so they are built from hashes and
// validated tokens only, never from raw request input:
//
//	account+<sha256(directoryURL)[:32 hex]>             account key (PKCS#8 PEM), one per ACME directory
//	cert+<sha256(directoryURL, hosts, keyType)[:32 hex]> certificate key (PKCS#8 PEM) then chain PEM
//	<token>+http-01                                      pending HTTP-01 key authorization
//	<host>+tls-alpn-01                                   pending TLS-ALPN-01 certificate and key (PEM)
//
// Locks (Cache.Lock) use the account and certificate key names.

// certKeyType is the certificate key type; it is part of a certificate's identity, so a future
// RSA option gets separate cache entries.
const certKeyType = "ecdsa-p256"

func accountCacheKey(directoryURL string) string {
	sum := sha256.Sum256([]byte(directoryURL))
	return "account+" + hex.EncodeToString(sum[:16])
}

// certCacheKey identifies a certificate by what it is (where from, for which names, which key
// type), not by the issuer's name: renaming an ACMEIssuer or changing its email reuses it.
func certCacheKey(directoryURL string, hosts []string) string {
	sorted := slices.Clone(hosts)
	slices.Sort(sorted)
	h := sha256.New()
	for _, s := range append([]string{directoryURL, certKeyType}, sorted...) {
		h.Write([]byte(s))
		h.Write([]byte{0}) // separator: no two lists hash alike by concatenation
	}
	return "cert+" + hex.EncodeToString(h.Sum(nil)[:16])
}

func httpTokenCacheKey(token string) string { return token + "+http-01" }

func tlsALPNCacheKey(host string) string { return host + "+tls-alpn-01" }

// validToken reports whether s can be an ACME token (RFC 8555 §8.1: base64url), so that a
// request path never becomes anything but a plain cache key.
func validToken(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	})
}
