// Package provider calls the CUSTOM authorization providers named by MeshConfig
// extensionProviders: remote Envoy ext_authz services over gRPC or HTTP, and Gatehouse's built-in
// OPA. The authz Engine only decides that a CUSTOM rule matched; the caller (the gateway, or the
// ext_authz server) asks the provider here, before DENY and ALLOW take effect, as Envoy's ext_authz
// filter runs ahead of RBAC.
package provider

import (
	"context"

	"github.com/gatehouse-dev/gatehouse/authz"
)

// Provider is one CUSTOM extension provider.
type Provider interface {
	// Check asks the provider about a request a CUSTOM rule matched. body is the request body as
	// Body asked for it, nil when the provider wants none; a caller that read one byte more than
	// max passes it too, and the provider sends the first max bytes flagged as partial, as
	// Envoy's x-envoy-auth-partial-body says. A provider that cannot answer applies its own
	// failOpen / statusOnError and says why in Result.Err.
	Check(ctx context.Context, r *authz.Request, body []byte) Result
	// Body is how much of the request body the provider wants (includeRequestBodyInCheck): max 0
	// means none; allowPartial false means a longer body is refused with 413, as Envoy does.
	Body() (max int, allowPartial bool)
}

// Result is a provider's answer, in the terms Envoy's ext_authz filter acts on.
type Result struct {
	// Allowed lets the request continue to DENY/ALLOW evaluation and the upstream.
	Allowed bool
	// Status, Body and DownstreamHeaders make the local reply of a denial.
	Status int
	Body   string
	// DownstreamHeaders go to the client: with a denial (headersToDownstreamOnDeny), or added to
	// the upstream's response when allowed (headersToDownstreamOnAllow).
	DownstreamHeaders []authz.Header
	// UpstreamHeaders are set on the request (headersToUpstreamOnAllow), RemoveUpstreamHeaders
	// removed from it, and SetQuery / RemoveQuery change its query parameters; all only when
	// allowed.
	UpstreamHeaders       []authz.Header
	RemoveUpstreamHeaders []string
	// AppendUpstreamHeaders are added to the request beside any value already there (an
	// ext_authz OkHttpResponse header with append set).
	AppendUpstreamHeaders []authz.Header
	SetQuery              []authz.Header
	RemoveQuery           []string
	// DynamicMetadata is what the provider returned for other filters and the access log.
	DynamicMetadata map[string]any
	// Err is why the provider could not answer (unreachable, timeout, evaluation error); the
	// decision above already applied failOpen / statusOnError.
	Err error
}

// Set is the providers of one snapshot by MeshConfig extensionProviders name.
type Set struct {
	byName map[string]Provider
	// keys identify each compiled provider's configuration and address, so the next Compile
	// keeps an unchanged provider (and its connections) rather than dialing anew.
	keys map[string]string
	// failed are the built-in providers whose last build failed, by name: the next Compile
	// reports the same error for the same content instead of compiling it again.
	failed map[string]failure
}

// failure is a build that failed: the content key and the error.
type failure struct {
	key string
	err error
}

// NewSet returns a Set of the given providers.
func NewSet(byName map[string]Provider) *Set { return &Set{byName: byName} }

// Lookup returns the named provider. A nil Set has none.
func (s *Set) Lookup(name string) (Provider, bool) {
	if s == nil {
		return nil, false
	}
	p, ok := s.byName[name]
	return p, ok
}
