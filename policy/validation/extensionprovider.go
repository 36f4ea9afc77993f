package validation

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	meshconfig "istio.io/api/mesh/v1alpha1"
)

// validateExtensionProviders checks MeshConfig extensionProviders. Istio accepts a MeshConfig
// whose providers are broken and only logs them, since a provider may never be used; a CUSTOM
// AuthorizationPolicy naming a broken provider then fails closed. So every finding here is a
// warning.
func validateExtensionProviders(field string, providers []*meshconfig.MeshConfig_ExtensionProvider, r *report) {
	asWarnings(r, func(w *report) {
		first := map[string]int{}
		for i, p := range providers {
			f := path(field, i)
			if p == nil {
				w.errorf(f, "extension provider must not be null")
				continue
			}
			// CUSTOM policies refer to providers by name, so names must be unique.
			switch name := p.GetName(); {
			case name == "":
				w.errorf(path(f, "name"), "empty extension provider name")
			default:
				if j, dup := first[name]; dup {
					w.errorf(path(f, "name"), "duplicate extension provider name %q (first defined at extensionProviders[%d])", name, j)
				} else {
					first[name] = i
				}
			}
			validateExtensionProvider(f, p, w)
		}
	})
}

// serviceProvider is what every provider that calls out to a service has.
type serviceProvider interface {
	GetService() string
	GetPort() uint32
}

func validateExtensionProvider(field string, p *meshconfig.MeshConfig_ExtensionProvider, r *report) {
	m := p.ProtoReflect()
	chosen := m.WhichOneof(m.Descriptor().Oneofs().ByName("provider"))
	if chosen == nil {
		r.errorf(field, "extension provider %q sets no provider (envoyExtAuthzHttp, envoyExtAuthzGrpc, ...)", p.GetName())
		return
	}
	field = path(field, chosen.JSONName())
	config := m.Get(chosen).Message().Interface()
	if sp, ok := config.(serviceProvider); ok {
		validateProviderService(path(field, "service"), sp.GetService(), r)
		validatePortNumber(path(field, "port"), sp.GetPort(), r)
	}
	switch c := config.(type) {
	case *meshconfig.MeshConfig_ExtensionProvider_EnvoyExternalAuthorizationHttpProvider:
		validateStatusOnError(path(field, "statusOnError"), c.GetStatusOnError(), r)
		if c.GetTimeout() != nil {
			validateDuration(path(field, "timeout"), c.GetTimeout(), r)
		}
		validatePathPrefix(path(field, "pathPrefix"), c.GetPathPrefix(), r)
	case *meshconfig.MeshConfig_ExtensionProvider_EnvoyExternalAuthorizationGrpcProvider:
		validateStatusOnError(path(field, "statusOnError"), c.GetStatusOnError(), r)
		if c.GetTimeout() != nil {
			validateDuration(path(field, "timeout"), c.GetTimeout(), r)
		}
	case *meshconfig.MeshConfig_ExtensionProvider_LightstepTracingProvider:
		if c.GetAccessToken() == "" {
			r.errorf(path(field, "accessToken"), "access token is required")
		}
	case *meshconfig.MeshConfig_ExtensionProvider_OpenTelemetryTracingProvider:
		if c.GetGrpc() != nil && c.GetHttp() != nil {
			r.errorf(field, "opentelemetry provider cannot specify both grpc and http")
		}
	}
}

// validateProviderService accepts "host" (a DNS name or an IP address) or "namespace/host", the
// form that disambiguates a service name present in several namespaces.
func validateProviderService(field, service string, r *report) {
	if reason := providerServiceProblem(service); reason != "" {
		r.errorf(field, "%s", reason)
	}
}

func providerServiceProblem(service string) string {
	if service == "" {
		return "service must not be empty"
	}
	ns, host, qualified := strings.Cut(service, "/")
	if !qualified {
		if fqdnProblem(service) != "" && !isIPAddress(service) {
			return fmt.Sprintf("invalid service %q: not a host name or an IP address", service)
		}
		return ""
	}
	switch {
	case ns == "" || host == "":
		return fmt.Sprintf("namespace and host name in service %q cannot be empty", service)
	case ns != "*" && ns != "." && ns != "~" && !isDNS1123Label(ns):
		return fmt.Sprintf("invalid namespace %q in service %q", ns, service)
	case host != "*" && !strings.Contains(host, "."):
		return fmt.Sprintf("short names (non FQDN) are not allowed after a namespace, got %q", host)
	}
	if reason := wildcardDomainProblem(host); reason != "" {
		return reason
	}
	return partialWildcardProblem(host)
}

// envoyStatusCodes are the HTTP statuses Envoy's StatusCode enum names; status_on_error must be
// one of them.
var envoyStatusCodes = map[int]bool{
	100: true, 200: true, 201: true, 202: true, 203: true, 204: true, 205: true, 206: true, 207: true,
	208: true, 226: true, 300: true, 301: true, 302: true, 303: true, 304: true, 305: true, 307: true,
	308: true, 400: true, 401: true, 402: true, 403: true, 404: true, 405: true, 406: true, 407: true,
	408: true, 409: true, 410: true, 411: true, 412: true, 413: true, 414: true, 415: true, 416: true,
	417: true, 421: true, 422: true, 423: true, 424: true, 426: true, 428: true, 429: true, 431: true,
	500: true, 501: true, 502: true, 503: true, 504: true, 505: true, 506: true, 507: true, 508: true,
	510: true, 511: true,
}

// validateStatusOnError: the status returned when the authorization service cannot be reached.
func validateStatusOnError(field, status string, r *report) {
	if status == "" {
		return
	}
	code, err := strconv.Atoi(status)
	switch {
	case err != nil:
		r.errorf(field, "invalid statusOnError value %q: not a number", status)
	case !envoyStatusCodes[code]:
		r.errorf(field, "unsupported statusOnError value %q: not an HTTP status Envoy knows", status)
	}
}

// validatePathPrefix: the prefix is put in front of the request path for the check request, so
// it must be an absolute path itself.
func validatePathPrefix(field, prefix string, r *report) {
	if prefix == "" {
		return
	}
	if _, err := url.Parse(prefix); err != nil {
		r.errorf(field, "invalid pathPrefix %q: %v", prefix, err)
	}
	if !strings.HasPrefix(prefix, "/") {
		r.errorf(field, "pathPrefix should begin with `/` but found %q", prefix)
	}
}
