package provider

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	meshconfig "istio.io/api/mesh/v1alpha1"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// BuiltinOPA is what a built-in OPA provider is built from: a Settings.opa entry, and the
// fields of the extensionProviders entry of the same name that still apply in-process.
type BuiltinOPA struct {
	Name     string
	Settings policy.OPASettings
	// FailOpen and StatusOnError are the entry's failOpen and statusOnError (403 when unset).
	FailOpen      bool
	StatusOnError int
	// MaxRequestBytes (0: no body) and AllowPartialMessage are includeRequestBodyInCheck.
	MaxRequestBytes     int
	AllowPartialMessage bool
	// Log receives Rego print() output and decision errors.
	Log *slog.Logger
}

// ErrKeptPrevious marks a Compile error after which the provider's previous good build keeps
// serving.
var ErrKeptPrevious = errors.New("the previous good policy keeps serving")

// builtinKeyPrefix marks a Set key as a built-in provider's, so a failed rebuild keeps only a
// previous built-in provider, never a remote one that happened to have the name.
const builtinKeyPrefix = "opa\x00"

// key is the content hash that decides whether the provider must be rebuilt.
func (b BuiltinOPA) key() string {
	h := sha256.New()
	_ = json.NewEncoder(h).Encode(struct {
		S                   policy.OPASettings
		FailOpen            bool
		StatusOnError       int
		MaxRequestBytes     int
		AllowPartialMessage bool
	}{b.Settings, b.FailOpen, b.StatusOnError, b.MaxRequestBytes, b.AllowPartialMessage})
	return builtinKeyPrefix + hex.EncodeToString(h.Sum(nil))
}

// builtinOPA indexes opts.OPA by provider name, or returns nil when there is no NewOPA. An
// entry naming no ext_authz extensionProviders entry is logged: no CUSTOM rule reaches it
// (policy already warned with the Settings file:line).
func builtinOPA(mesh *meshconfig.MeshConfig, opts Options, log *slog.Logger) map[string]policy.OPASettings {
	if opts.NewOPA == nil || len(opts.OPA) == 0 {
		return nil
	}
	authzNames := map[string]bool{}
	for _, ep := range mesh.GetExtensionProviders() {
		if ep.GetEnvoyExtAuthzGrpc() != nil || ep.GetEnvoyExtAuthzHttp() != nil {
			authzNames[ep.GetName()] = true
		}
	}
	out := make(map[string]policy.OPASettings, len(opts.OPA))
	for _, o := range opts.OPA {
		if _, dup := out[o.Provider]; dup {
			continue
		}
		out[o.Provider] = o
		if !authzNames[o.Provider] {
			log.Warn("authz: Settings.opa names no envoyExtAuthzGrpc or envoyExtAuthzHttp extensionProviders entry; not served", "provider", o.Provider)
		}
	}
	return out
}

// builtinProvider installs the built-in OPA provider for o into set, reusing the previous one
// when nothing it is built from changed. When the build fails, the previous built-in provider
// of that name keeps serving (the last good one), and the error says so.
func builtinProvider(set *Set, o policy.OPASettings, s *settings, opts Options, log *slog.Logger) error {
	b := BuiltinOPA{
		Name: s.name, Settings: o, FailOpen: s.failOpen, StatusOnError: s.statusOnError,
		MaxRequestBytes: s.maxBody, AllowPartialMessage: s.allowPartial, Log: log,
	}
	key := b.key()
	prev, hasPrev := opts.Previous.Lookup(s.name)
	prevKey := ""
	if hasPrev {
		prevKey = opts.Previous.keys[s.name]
	}
	if hasPrev && prevKey == key {
		set.byName[s.name], set.keys[s.name] = prev, key
		return nil
	}
	var err error
	if f, ok := opts.Previous.failure(s.name); ok && f.key == key {
		err = f.err // the same content failed before: do not compile it again
	} else {
		var p Provider
		if p, err = opts.NewOPA(b); err == nil {
			set.byName[s.name], set.keys[s.name] = p, key
			return nil
		}
	}
	set.failed[s.name] = failure{key: key, err: err}
	if hasPrev && strings.HasPrefix(prevKey, builtinKeyPrefix) {
		set.byName[s.name], set.keys[s.name] = prev, prevKey
		return fmt.Errorf("%w (%w)", err, ErrKeptPrevious)
	}
	delete(set.byName, s.name)
	return err
}

// failure returns the failed build of name that s recorded.
func (s *Set) failure(name string) (failure, bool) {
	if s == nil {
		return failure{}, false
	}
	f, ok := s.failed[name]
	return f, ok
}

// unresolved stands in for Options.Resolve for a provider served in-process.
func unresolved(string, string, uint32) (string, error) { return "", nil }
