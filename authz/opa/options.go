package opa

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// DefaultPath is opa-envoy-plugin's default decision path (its `path` setting), i.e. the query
// data.envoy.authz.allow.
const DefaultPath = "envoy/authz/allow"

// Options configure a Provider.
type Options struct {
	// Modules are the Rego sources by file name (the name appears in errors and print output).
	Modules map[string]string
	// Data is the base document (data.*) the policies read, as decoded JSON/YAML.
	Data map[string]any
	// Path is the decision, slash-separated as opa-envoy-plugin's `path` setting
	// ("envoy/authz/allow"); DefaultPath when empty.
	Path string
	// RegoVersion is the Rego syntax of Modules: ast.RegoV1 (the default, as OPA 1.x and current
	// opa-envoy-plugin) or ast.RegoV0 for policies written for OPA 0.x (OPA's --v0-compatible).
	RegoVersion ast.RegoVersion

	// MaxRequestBytes and AllowPartialMessage are includeRequestBodyInCheck: how much of the body
	// the policy sees (0: none), and whether a longer body is sent truncated (true) or refused
	// with 413 by the caller (false), as Envoy's with_request_body.
	MaxRequestBytes     int
	AllowPartialMessage bool

	// FailOpen allows requests when the policy cannot decide (evaluation error, undefined or
	// malformed decision), as Envoy's failure_mode_allow; otherwise they get StatusOnError.
	FailOpen bool
	// StatusOnError is the denial status when the policy cannot decide; 403 when 0 (Istio's
	// statusOnError default for ext_authz providers).
	StatusOnError int

	// ContextExtensions are sent as attributes.contextExtensions, as the per-route
	// check_settings of the Envoy filter would.
	ContextExtensions map[string]string

	// Logger receives Rego print() output and decision errors; slog.Default() when nil.
	Logger *slog.Logger
	// Now stamps attributes.request.time; time.Now when nil.
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.Path == "" {
		o.Path = DefaultPath
	}
	if o.RegoVersion == ast.RegoUndefined {
		o.RegoVersion = ast.RegoV1
	}
	if o.StatusOnError == 0 {
		o.StatusOnError = http.StatusForbidden
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}
