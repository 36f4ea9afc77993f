// Package pathnorm implements MeshConfig pathNormalization: how a request path is normalized before
// routing and authorization, as Istio configures Envoy's HTTP connection manager for each mode. The
// gateway normalizes once, before routing and authorization; a standalone ext_authz service
// normalizes the path Envoy sends it the same way, so a policy never sees a path the gateway would
// have read differently.
//
// It owns only the pure path function and the mode; it must not know about routes or policies.
package pathnorm

import (
	"errors"
	"strings"

	meshconfig "istio.io/api/mesh/v1alpha1"
)

// Mode is MeshConfig pathNormalization.normalization, each mode doing what the one before it
// does and more, as Istio configures Envoy for it.
type Mode uint8

const (
	// None forwards the path as the client sent it.
	None Mode = iota
	// Base is Envoy's normalize_path: RFC 3986 normalization (dot segments removed,
	// percent-encoded unreserved characters decoded, "\" read as "/"). %2F and %5C are kept
	// as they are (Istio's BASE leaves path_with_escaped_slashes_action at KEEP_UNCHANGED).
	Base
	// MergeSlashes adds Envoy's merge_slashes.
	MergeSlashes
	// DecodeAndMergeSlashes adds path_with_escaped_slashes_action UNESCAPE_AND_FORWARD:
	// %2F and %5C (either case) are decoded before the rest of the normalization.
	DecodeAndMergeSlashes
)

func (m Mode) String() string {
	switch m {
	case None:
		return "NONE"
	case MergeSlashes:
		return "MERGE_SLASHES"
	case DecodeAndMergeSlashes:
		return "DECODE_AND_MERGE_SLASHES"
	}
	return "BASE"
}

// FromMesh resolves the mesh's mode; DEFAULT (and an absent setting) is BASE, as in Istio.
func FromMesh(mesh *meshconfig.MeshConfig) Mode {
	switch mesh.GetPathNormalization().GetNormalization() {
	case meshconfig.MeshConfig_ProxyPathNormalization_NONE:
		return None
	case meshconfig.MeshConfig_ProxyPathNormalization_MERGE_SLASHES:
		return MergeSlashes
	case meshconfig.MeshConfig_ProxyPathNormalization_DECODE_AND_MERGE_SLASHES:
		return DecodeAndMergeSlashes
	}
	return Base
}

// ErrInvalid is answered with 400, as Envoy rejects a path it cannot normalize.
var ErrInvalid = errors.New("invalid request path")

// Normalize normalizes a raw (still percent-encoded) request path without its query. The
// result always starts with "/" and normalizing it again changes nothing, so routing and
// authorization, which both see it, cannot disagree with the upstream about the path. A path
// with a control character, an invalid percent-encoding or an encoded NUL is rejected:
// it cannot be normalized safely, and is the material of path-confusion attacks.
func Normalize(mode Mode, raw string) (string, error) {
	if mode == None {
		return raw, nil
	}
	clean, err := isNormal(mode, raw)
	if err != nil || clean {
		return raw, err
	}
	decoded, err := decodePath(mode, raw)
	if err != nil {
		return "", err
	}
	p := removeDotSegments(decoded)
	if mode >= MergeSlashes {
		p = mergeSlashes(p)
	}
	return p, nil
}

// isNormal is the allocation-free check that lets the common, already normal path through.
func isNormal(mode Mode, p string) (bool, error) {
	if p == "" || p[0] != '/' {
		return false, nil
	}
	clean := true
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c <= ' ' || c == 0x7f:
			return false, ErrInvalid
		case c == '%' || c == '\\':
			clean = false
		case c == '/' && i+1 < len(p):
			next := p[i+1]
			if next == '.' || (next == '/' && mode >= MergeSlashes) {
				clean = false
			}
		}
	}
	return clean, nil
}

// decodePath decodes what the mode says must not stay encoded, reads "\" as "/", and makes the
// path absolute. Other escapes are kept byte for byte (hex case included, as Envoy does).
func decodePath(mode Mode, p string) (string, error) {
	var b strings.Builder
	b.Grow(len(p) + 1)
	if p == "" || (p[0] != '/' && p[0] != '\\') {
		b.WriteByte('/')
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c <= ' ' || c == 0x7f:
			return "", ErrInvalid
		case c == '\\':
			b.WriteByte('/')
		case c == '%':
			if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
				return "", ErrInvalid
			}
			d := unhex(p[i+1])<<4 | unhex(p[i+2])
			switch {
			case d == 0:
				return "", ErrInvalid
			case isUnreserved(d):
				b.WriteByte(d)
			case (d == '/' || d == '\\') && mode >= DecodeAndMergeSlashes:
				b.WriteByte('/')
			default:
				b.WriteString(p[i : i+3])
			}
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// removeDotSegments is RFC 3986 section 5.2.4 for an absolute path: "." segments go, ".."
// removes the segment before it (never past the root), and a path ending in either keeps its
// trailing "/".
func removeDotSegments(p string) string {
	parts := strings.Split(p[1:], "/")
	out := parts[:0]
	for i, seg := range parts {
		last := i == len(parts)-1
		switch seg {
		case ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
			continue
		}
		if last {
			out = append(out, "")
		}
	}
	return "/" + strings.Join(out, "/")
}

func mergeSlashes(p string) string {
	if !strings.Contains(p, "//") {
		return p
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && i > 0 && p[i-1] == '/' {
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
