package provider

import (
	"cmp"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	meshconfig "istio.io/api/mesh/v1alpha1"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// DefaultTimeout is the ext_authz timeout istiod configures when a provider sets none (600s, for
// both envoyExtAuthzHttp and envoyExtAuthzGrpc), not Envoy's own 200ms default.
const DefaultTimeout = 600 * time.Second

// Options configure Compile.
type Options struct {
	// Log receives provider failures (unreachable, timeout) at warn level. Nil discards.
	Log *slog.Logger
	// Resolve returns the address ("host:port") to dial for a provider's service: namespace is
	// the one the service names ("" without one), host the rest. On Kubernetes that is the
	// Service; in file mode a ServiceEntry. An error makes the provider unusable, so that the
	// CUSTOM rules naming it deny, as istiod does for a service it cannot find. Nil dials
	// host:port, resolved by DNS.
	Resolve func(namespace, host string, port uint32) (string, error)
	// Previous is the Set in use: a provider whose configuration and address did not change is
	// reused with its connections.
	Previous *Set
	// Builtin are providers MeshConfig does not describe as Envoy ext_authz, by name. A
	// MeshConfig ext_authz provider of the same name takes precedence.
	Builtin map[string]Provider
	// OPA are Settings.opa: the extensionProviders names served in-process by NewOPA instead of
	// calling their service. Ignored when NewOPA is nil.
	OPA []policy.OPASettings
	// NewOPA builds a built-in OPA provider (opa.Builtin). Compile calls it only when an entry's
	// content or provider options changed since Previous, so an unrelated reload compiles no Rego.
	NewOPA func(BuiltinOPA) (Provider, error)
}

// settings is one ext_authz provider's configuration, as istiod hands it to Envoy.
type settings struct {
	name          string
	addr          string
	timeout       time.Duration
	failOpen      bool
	statusOnError int
	// maxBody > 0 when includeRequestBodyInCheck is set.
	maxBody      int
	allowPartial bool
	packAsBytes  bool

	// HTTP only.
	pathPrefix        string
	requestHeaders    *headerMatcher
	additional        []authz.Header
	upstreamOnAllow   *headerMatcher
	downstreamOnDeny  *headerMatcher
	downstreamOnAllow *headerMatcher
}

// Compile builds the Providers of mesh's extensionProviders of kind envoyExtAuthzGrpc and
// envoyExtAuthzHttp. A provider with an invalid field is left out of the Set and reported, so
// that the CUSTOM rules naming it deny (Istio's behaviour for a bad provider); the others work.
// Other kinds (tracing, logging) are not authorization providers and are skipped.
func Compile(mesh *meshconfig.MeshConfig, opts Options) (*Set, []error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	set := &Set{byName: map[string]Provider{}, keys: map[string]string{}, failed: map[string]failure{}}
	builtin := builtinOPA(mesh, opts, log)
	for name, p := range opts.Builtin {
		set.byName[name] = p
	}
	var errs []error
	seen := map[string]bool{}
	for i, ep := range mesh.GetExtensionProviders() {
		field := fmt.Sprintf("meshConfig.extensionProviders[%d]", i)
		name := ep.GetName()
		switch {
		case name == "":
			errs = append(errs, fmt.Errorf("%s.name: must not be empty", field))
			continue
		case seen[name]:
			errs = append(errs, fmt.Errorf("%s.name: %q: must be unique", field, name))
			delete(set.byName, name)
			continue
		}
		seen[name] = true
		field += " (" + name + ")"
		var (
			s    *settings
			err  error
			grpc bool
		)
		resolve := opts.Resolve
		if _, ok := builtin[name]; ok {
			resolve = unresolved // served in-process: the service is never dialed
		}
		switch kind := ep.GetProvider().(type) {
		case *meshconfig.MeshConfig_ExtensionProvider_EnvoyExtAuthzHttp:
			s, err = httpSettings(field+".envoyExtAuthzHttp", kind.EnvoyExtAuthzHttp, resolve)
		case *meshconfig.MeshConfig_ExtensionProvider_EnvoyExtAuthzGrpc:
			s, err = grpcSettings(field+".envoyExtAuthzGrpc", kind.EnvoyExtAuthzGrpc, resolve)
			grpc = true
		default:
			continue
		}
		if err != nil {
			errs = append(errs, err)
			delete(set.byName, name)
			continue
		}
		s.name = name
		if o, ok := builtin[name]; ok {
			if err := builtinProvider(set, o, s, opts, log); err != nil {
				errs = append(errs, fmt.Errorf("%s: built-in OPA: %w", field, err))
			}
			continue
		}
		key := configKey(ep, s.addr)
		if prev, ok := opts.Previous.Lookup(name); ok && opts.Previous.keys[name] == key {
			set.byName[name], set.keys[name] = prev, key
			continue
		}
		var p Provider
		if grpc {
			p, err = newGRPC(s, log)
		} else {
			p = newHTTP(s, log)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", field, err))
			delete(set.byName, name)
			continue
		}
		set.byName[name], set.keys[name] = p, key
	}
	return set, errs
}

func configKey(ep *meshconfig.MeshConfig_ExtensionProvider, addr string) string {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(ep)
	return addr + "\x00" + string(b)
}

// common reads the fields both kinds share.
func common(field, service string, port uint32, timeout *durationpb.Duration, failOpen bool, statusOnError string,
	body *meshconfig.MeshConfig_ExtensionProvider_EnvoyExternalAuthorizationRequestBody,
	resolve func(string, string, uint32) (string, error),
) (*settings, error) {
	s := &settings{timeout: DefaultTimeout, failOpen: failOpen, statusOnError: http.StatusForbidden}
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("%s.port: must be in the range [1, 65535], found %d", field, port)
	}
	addr, err := resolveService(service, port, resolve)
	if err != nil {
		return nil, fmt.Errorf("%s.service: %w", field, err)
	}
	s.addr = addr
	if timeout != nil {
		if err := timeout.CheckValid(); err != nil {
			return nil, fmt.Errorf("%s.timeout: %w", field, err)
		}
		if d := timeout.AsDuration(); d > 0 {
			s.timeout = d
		}
	}
	if statusOnError != "" {
		code, err := strconv.ParseInt(statusOnError, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%s.statusOnError: invalid %q: %w", field, statusOnError, err)
		}
		// istiod accepts only the codes Envoy's HttpStatus enumerates.
		if _, ok := typev3.StatusCode_name[int32(code)]; !ok {
			return nil, fmt.Errorf("%s.statusOnError: unsupported status %s", field, statusOnError)
		}
		s.statusOnError = int(code)
	}
	if body != nil {
		// Envoy's with_request_body requires max_request_bytes > 0.
		if body.GetMaxRequestBytes() == 0 {
			return nil, fmt.Errorf("%s.includeRequestBodyInCheck.maxRequestBytes: must be greater than 0", field)
		}
		s.maxBody = int(min(body.GetMaxRequestBytes(), 1<<30))
		s.allowPartial, s.packAsBytes = body.GetAllowPartialMessage(), body.GetPackAsBytes()
	}
	return s, nil
}

// resolveService reads Istio's "[<namespace>/]<hostname>" and returns the address to dial.
func resolveService(service string, port uint32, resolve func(string, string, uint32) (string, error)) (string, error) {
	if service == "" {
		return "", fmt.Errorf("must not be empty")
	}
	ns, host, found := strings.Cut(service, "/")
	if !found {
		ns, host = "", service
	}
	if host == "" || strings.Contains(host, "/") || strings.HasPrefix(host, "*") {
		return "", fmt.Errorf("%q: want [<namespace>/]<hostname>", service)
	}
	if resolve == nil {
		return net.JoinHostPort(host, strconv.Itoa(int(port))), nil
	}
	addr, err := resolve(ns, host, port)
	if err != nil {
		return "", fmt.Errorf("%q: %w", service, err)
	}
	return addr, nil
}

func httpSettings(field string, c *meshconfig.MeshConfig_ExtensionProvider_EnvoyExternalAuthorizationHttpProvider,
	resolve func(string, string, uint32) (string, error),
) (*settings, error) {
	s, err := common(field, c.GetService(), c.GetPort(), c.GetTimeout(), c.GetFailOpen(),
		c.GetStatusOnError(), c.GetIncludeRequestBodyInCheck(), resolve)
	if err != nil {
		return nil, err
	}
	if p := c.GetPathPrefix(); p != "" {
		if _, err := url.Parse(p); err != nil {
			return nil, fmt.Errorf("%s.pathPrefix: invalid %q: %w", field, p, err)
		}
		if !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("%s.pathPrefix: must begin with `/`, found %q", field, p)
		}
		s.pathPrefix = p
	}
	// includeHeadersInCheck is deprecated: istiod reads it only when the new field is unset.
	reqField, reqList := "includeRequestHeadersInCheck", c.GetIncludeRequestHeadersInCheck()
	if len(reqList) == 0 {
		//lint:ignore SA1019 the deprecated field still configures existing meshes
		reqField, reqList = "includeHeadersInCheck", c.GetIncludeHeadersInCheck()
	}
	lists := []struct {
		name string
		list []string
		dst  **headerMatcher
	}{
		{reqField, reqList, &s.requestHeaders},
		{"headersToUpstreamOnAllow", c.GetHeadersToUpstreamOnAllow(), &s.upstreamOnAllow},
		{"headersToDownstreamOnDeny", c.GetHeadersToDownstreamOnDeny(), &s.downstreamOnDeny},
		{"headersToDownstreamOnAllow", c.GetHeadersToDownstreamOnAllow(), &s.downstreamOnAllow},
	}
	for _, l := range lists {
		if *l.dst, err = compileHeaders(field+"."+l.name, l.list); err != nil {
			return nil, err
		}
	}
	for k, v := range c.GetIncludeAdditionalHeadersInCheck() {
		s.additional = append(s.additional, authz.Header{Name: strings.ToLower(k), Value: v})
	}
	slices.SortFunc(s.additional, func(a, b authz.Header) int { return cmp.Compare(a.Name, b.Name) })
	return s, nil
}

func grpcSettings(field string, c *meshconfig.MeshConfig_ExtensionProvider_EnvoyExternalAuthorizationGrpcProvider,
	resolve func(string, string, uint32) (string, error),
) (*settings, error) {
	return common(field, c.GetService(), c.GetPort(), c.GetTimeout(), c.GetFailOpen(),
		c.GetStatusOnError(), c.GetIncludeRequestBodyInCheck(), resolve)
}
