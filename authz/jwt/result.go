package jwt

import (
	"net/http"
	"strings"
)

// Input is what Authenticate reads from a request.
type Input struct {
	Header   http.Header // canonical keys (net/http form); includes Cookie
	RawQuery string      // the request's query string, undecoded
	// Scheme, Host and Path build the www-authenticate realm, as Envoy's buildOriginalUri does
	// ("http://host/path", query dropped). They may be empty.
	Scheme, Host, Path string
}

// Result of Authenticate.
type Result struct {
	// Identity is the verified token's identity; nil when no token was presented.
	Identity *Identity
	// Failure is non-nil when the request must be denied.
	Failure *Failure
	// Upstream header changes to make when the request is allowed. RemoveHeaders is applied
	// before SetHeaders and is shared: callers must not modify it.
	SetHeaders    []Header // outputPayloadToHeader, outputClaimToHeaders
	RemoveHeaders []string // token headers unless forwardOriginalToken; output headers a client sent
}

// Header is one upstream header to set.
type Header struct{ Name, Value string }

// Failure is a denial with Envoy's reason.
type Failure struct {
	// Status is 401, or 403 for "Audiences in Jwt are not allowed" (Envoy's jwt_authn answers
	// JwtAudienceNotAllowed with Forbidden).
	Status          int
	Reason          string // Envoy's text: "Jwt is expired", "Jwt verification fails", ...
	WWWAuthenticate string // `Bearer realm="http://host/path", error="invalid_token"`
}

func failure(st status, in Input) *Failure {
	code := http.StatusUnauthorized
	if st == statusAudienceNotAllowed {
		code = http.StatusForbidden
	}
	return &Failure{Status: code, Reason: st.String(), WWWAuthenticate: wwwAuthenticate(in)}
}

// wwwAuthenticate is Envoy's header for a rejected token: the realm is the request URI without
// its query. (Envoy omits error= only for a missing token, which Istio's config always allows.)
func wwwAuthenticate(in Input) string {
	path, _, _ := strings.Cut(in.Path, "?")
	path, _, _ = strings.Cut(path, "#")
	var b strings.Builder
	b.WriteString(`Bearer realm="`)
	if in.Host != "" {
		scheme := in.Scheme
		if scheme == "" {
			scheme = "http"
		}
		b.WriteString(scheme + "://" + in.Host)
	}
	b.WriteString(path)
	b.WriteString(`", error="invalid_token"`)
	return b.String()
}
