package gateway

import (
	"errors"
	"strings"

	meshconfig "istio.io/api/mesh/v1alpha1"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// pathMode is MeshConfig pathNormalization.normalization, each mode doing what the one before it
// does and more, as Istio configures Envoy for it.
type pathMode uint8

const (
	// pathNone forwards the path as the client sent it.
	pathNone pathMode = iota
	// pathBase is Envoy's normalize_path: RFC 3986 normalization (dot segments removed,
	// percent-encoded unreserved characters decoded, "\" read as "/"). %2F and %5C are kept
	// as they are (Istio's BASE leaves path_with_escaped_slashes_action at KEEP_UNCHANGED).
	pathBase
	// pathMergeSlashes adds Envoy's merge_slashes.
	pathMergeSlashes
	// pathDecodeAndMergeSlashes adds path_with_escaped_slashes_action UNESCAPE_AND_FORWARD:
	// %2F and %5C (either case) are decoded before the rest of the normalization.
	pathDecodeAndMergeSlashes
)

func (m pathMode) String() string {
	switch m {
	case pathNone:
		return "NONE"
	case pathMergeSlashes:
		return "MERGE_SLASHES"
	case pathDecodeAndMergeSlashes:
		return "DECODE_AND_MERGE_SLASHES"
	}
	return "BASE"
}

// pathNormalization resolves the mesh's mode; DEFAULT is BASE, as in Istio.
func pathNormalization(snap *policy.Snapshot) pathMode {
	switch snap.Mesh.GetPathNormalization().GetNormalization() {
	case meshconfig.MeshConfig_ProxyPathNormalization_NONE:
		return pathNone
	case meshconfig.MeshConfig_ProxyPathNormalization_MERGE_SLASHES:
		return pathMergeSlashes
	case meshconfig.MeshConfig_ProxyPathNormalization_DECODE_AND_MERGE_SLASHES:
		return pathDecodeAndMergeSlashes
	}
	return pathBase
}

// errInvalidPath is answered with 400, as Envoy rejects a path it cannot normalize.
var errInvalidPath = errors.New("invalid request path")

// normalizePath normalizes a raw (still percent-encoded) request path without its query. The
// result always starts with "/" and normalizing it again changes nothing, so routing and
// authorization, which both see it, cannot disagree with the upstream about the path. A path
// with a control character, an invalid percent-encoding or an encoded NUL is rejected:
// it cannot be normalized safely, and is the material of path-confusion attacks.
func normalizePath(mode pathMode, raw string) (string, error) {
	if mode == pathNone {
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
	if mode >= pathMergeSlashes {
		p = mergeSlashes(p)
	}
	return p, nil
}

// isNormal is the allocation-free check that lets the common, already normal path through.
func isNormal(mode pathMode, p string) (bool, error) {
	if p == "" || p[0] != '/' {
		return false, nil
	}
	clean := true
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c <= ' ' || c == 0x7f:
			return false, errInvalidPath
		case c == '%' || c == '\\':
			clean = false
		case c == '/' && i+1 < len(p):
			next := p[i+1]
			if next == '.' || (next == '/' && mode >= pathMergeSlashes) {
				clean = false
			}
		}
	}
	return clean, nil
}

// decodePath decodes what the mode says must not stay encoded, reads "\" as "/", and makes the
// path absolute. Other escapes are kept byte for byte (hex case included, as Envoy does).
func decodePath(mode pathMode, p string) (string, error) {
	var b strings.Builder
	b.Grow(len(p) + 1)
	if p == "" || (p[0] != '/' && p[0] != '\\') {
		b.WriteByte('/')
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c <= ' ' || c == 0x7f:
			return "", errInvalidPath
		case c == '\\':
			b.WriteByte('/')
		case c == '%':
			if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
				return "", errInvalidPath
			}
			d := unhex(p[i+1])<<4 | unhex(p[i+2])
			switch {
			case d == 0:
				return "", errInvalidPath
			case isUnreserved(d):
				b.WriteByte(d)
			case (d == '/' || d == '\\') && mode >= pathDecodeAndMergeSlashes:
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
