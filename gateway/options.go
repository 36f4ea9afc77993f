package gateway

import (
	"crypto/tls"
	"log/slog"
	"maps"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/authz/provider"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/sds"
)

// CompileOptions say which gateway workload a Table is compiled for, as Istio's gateway
// Deployment does with its namespace and pod labels.
type CompileOptions struct {
	// Namespace of the gateway workload: exportTo is evaluated from it. Default istio-system.
	Namespace string
	// Labels of the gateway workload, matched by Gateway selectors. Default istio=ingressgateway.
	Labels map[string]string
	// PortMap maps a server port to the port actually listened on (80 -> 8080, as a Kubernetes
	// Service's targetPort does). Ports absent from the map are listened on as is; a mapping to 0
	// asks for an ephemeral port, which tests use.
	PortMap map[uint32]uint32
}

func (o CompileOptions) withDefaults() CompileOptions {
	d := policy.DefaultWorkload()
	if o.Namespace == "" {
		o.Namespace = d.Namespace
	}
	if o.Labels == nil {
		o.Labels = d.Labels
	}
	return o
}

// listenPort applies PortMap to a server port.
func (o CompileOptions) listenPort(port uint32) uint32 {
	if p, ok := o.PortMap[port]; ok {
		return p
	}
	return port
}

// Options configure a Gateway.
type Options struct {
	// Logger receives config warnings and runtime errors. Default slog.Default().
	Logger *slog.Logger
	// Registerer gets the request metrics. Nil keeps them in a private registry.
	Registerer prometheus.Registerer
	// BindAddress is the address listeners bind when a server has no bind of its own; empty means
	// every address. Tests use 127.0.0.1.
	BindAddress string
	// Compile selects this workload's Gateways and maps ports.
	Compile CompileOptions
	// Credentials holds the certificates, keys and CAs TLS servers use, looked up at every
	// handshake. Nil means none: TLS servers then fail their handshakes.
	Credentials *sds.Store
	// ClientHelloTimeout bounds the wait for a TLS ClientHello, and then again for the rest of
	// the handshake; it also bounds the wait for a PROXY protocol header where one is required.
	// Default 15s, Envoy's listener_filters_timeout.
	ClientHelloTimeout time.Duration
	// TicketKeyRotation is how often a new session ticket key starts encrypting; the two before
	// it still decrypt. Default 1h.
	TicketKeyRotation time.Duration
	// StreamIdleTimeout resets a proxied request that moves no body bytes either way for this
	// long: Envoy's stream_idle_timeout. Default 5m, Envoy's; negative turns it off.
	StreamIdleTimeout time.Duration
	// Authz decides every request and TCP connection before routing (Istio's RequestAuthentication
	// and AuthorizationPolicy at the gateway): the in-process authz.Engine, or a client of a remote
	// ext_authz service. Nil authorizes nothing: every request is routed.
	Authz authz.Checker
	// AuthzWorkload is the workload whose policies apply to this gateway. Nil means the Compile
	// namespace and labels, with no Service names.
	AuthzWorkload *authz.Workload
	// Providers returns the CUSTOM extension providers in force (they change with MeshConfig),
	// asked when a decision names one. Nil, or a provider missing from the Set, denies what a
	// CUSTOM rule matches.
	Providers func() *provider.Set
	// ACME answers an ACME CA's challenges for the certificates it obtains (issue 8): HTTP-01
	// on every HTTP listener ahead of routing and authorization, TLS-ALPN-01 in the handshake of
	// every TLS listener. Nil answers none.
	ACME ACMEResponder
}

// ACMEResponder answers ACME challenges; acmecert.Manager is one.
type ACMEResponder interface {
	// HTTPChallenge answers a request for a pending HTTP-01 token and reports whether it did;
	// any other request goes on to routing.
	HTTPChallenge(w http.ResponseWriter, r *http.Request) bool
	// TLSALPNCertificate returns the RFC 8737 certificate for a pending TLS-ALPN-01 challenge
	// of the name the ClientHello asks for.
	TLSALPNCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, bool)
}

// Defaults of Options.
const (
	defaultClientHelloTimeout = 15 * time.Second
	defaultTicketKeyRotation  = time.Hour
	defaultStreamIdleTimeout  = 5 * time.Minute
)

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.ClientHelloTimeout <= 0 {
		o.ClientHelloTimeout = defaultClientHelloTimeout
	}
	if o.TicketKeyRotation <= 0 {
		o.TicketKeyRotation = defaultTicketKeyRotation
	}
	if o.StreamIdleTimeout == 0 {
		o.StreamIdleTimeout = defaultStreamIdleTimeout
	}
	o.Compile = o.Compile.withDefaults()
	o.Compile.Labels = maps.Clone(o.Compile.Labels)
	o.Compile.PortMap = maps.Clone(o.Compile.PortMap)
	if o.Authz != nil {
		// Built once: the workload's precomputed key keeps the engine's lookup allocation-free.
		o.AuthzWorkload = o.authzWorkload()
	}
	return o
}
