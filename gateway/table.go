package gateway

import (
	"cmp"
	"slices"
	"strings"
)

// Table is the compiled, immutable routing state of the gateway: what every listener serves.
// A Gateway installs a new Table with one atomic swap; requests already routed finish on the
// Table they started with. Its exported fields describe it (for golden files and debugging) and
// must be treated as read-only.
type Table struct {
	// Version is the policy.Snapshot version the Table was compiled from.
	Version   uint64      `yaml:"version"`
	Listeners []*Listener `yaml:"listeners"`
	// Clusters are the upstreams routes point at, by name.
	Clusters []*Cluster `yaml:"clusters,omitempty"`
	// ForwardClientCert is MeshConfig defaultConfig.gatewayTopology.forwardClientCertDetails, with
	// UNDEFINED resolved to SANITIZE_SET as Istio does at gateways: what happens to
	// x-forwarded-client-cert on every request.
	ForwardClientCert string `yaml:"forwardClientCert"`
	// PathNormalization is MeshConfig pathNormalization.normalization, DEFAULT resolved to BASE:
	// how every request path is normalized before routing and authorization.
	PathNormalization string `yaml:"pathNormalization"`
	// NumTrustedProxies is MeshConfig defaultConfig.gatewayTopology.numTrustedProxies: how many
	// X-Forwarded-For hops are the gateway's own proxies when it decides the client's address.
	NumTrustedProxies uint32 `yaml:"numTrustedProxies,omitempty"`
	// AccessLog is MeshConfig accessLogFile/accessLogEncoding; nil means no access log.
	AccessLog *AccessLog `yaml:"accessLog,omitempty"`

	pathMode pathMode

	byKey map[ListenerKey]*Listener
}

// listener returns what a listener serves, or nil when the Table has no such listener.
func (t *Table) listener(k ListenerKey) *Listener { return t.byKey[k] }

// terminatesTLS reports whether a filter chain needs credentials.
func (t *Table) terminatesTLS() bool {
	for _, l := range t.Listeners {
		for _, fc := range l.FilterChains {
			if fc.TLS != nil {
				return true
			}
		}
	}
	return false
}

// ListenerKey names one listener: a Gateway server port on a bind address.
type ListenerKey struct {
	// Bind is the server's bind address; empty means Options.BindAddress.
	Bind string
	// Port is the server port (servers[].port.number), before PortMap.
	Port uint32
}

// Listener is everything served on one port, by the class of its servers: plaintext HTTP
// servers merged as Istio merges them into one route configuration; TLS servers (HTTPS and TLS)
// told apart by SNI into filter chains; or one plain TCP server and its tcp route.
type Listener struct {
	Bind string `yaml:"bind,omitempty"`
	Port uint32 `yaml:"port"`
	// ListenPort is Port after CompileOptions.PortMap.
	ListenPort uint32 `yaml:"listenPort"`
	// Protocol is HTTP (HTTP/1.1 and h2c), TLS (a ClientHello is peeked and its SNI selects a
	// filter chain) or TCP (bytes are proxied to TCPRoute).
	Protocol string `yaml:"protocol"`
	// ProxyProtocol requires a PROXY protocol header (v1 or v2) before anything else on every
	// connection and takes the client's address from it (gatewayTopology.proxyProtocol).
	ProxyProtocol bool `yaml:"proxyProtocol,omitempty"`
	// Servers names the Gateway servers merged here, "namespace/name: servers[i]".
	Servers []string `yaml:"servers"`
	// VirtualHosts are what an HTTP listener serves.
	VirtualHosts []*VirtualHost `yaml:"virtualHosts,omitempty"`
	// FilterChains are what a TLS listener serves, one per TLS server or passthrough route.
	FilterChains []*FilterChain `yaml:"filterChains,omitempty"`
	// TCPRoute is where a TCP listener sends its connections; nil closes them.
	TCPRoute *TCPRoute `yaml:"tcpRoute,omitempty"`
	// Permissive marks a TLS listener serving a PERMISSIVE ISTIO_MUTUAL server (see
	// MTLSModeAnnotation): mesh mTLS goes to FilterChains, plaintext HTTP to VirtualHosts, and
	// other TLS to PassthroughRoute (nil closes it).
	Permissive       bool      `yaml:"permissive,omitempty"`
	PassthroughRoute *TCPRoute `yaml:"passthroughRoute,omitempty"`

	vhosts hostIndex[*VirtualHost]
	chains hostIndex[*FilterChain]
}

// Key returns the listener's key.
func (l *Listener) Key() ListenerKey { return ListenerKey{Bind: l.Bind, Port: l.Port} }

// VirtualHost is one domain of a listener and its routes, in the order they are tried.
type VirtualHost struct {
	// Domain is exact ("shop.example.com"), a suffix wildcard ("*.example.com") or "*".
	Domain string `yaml:"domain"`
	// RequireTLS redirects every plaintext request to https, for servers with tls.httpsRedirect.
	RequireTLS bool     `yaml:"requireTLS,omitempty"`
	Routes     []*Route `yaml:"routes"`
}

// index builds the lookup structures for Envoy's domain and server name selection.
func (l *Listener) index() {
	slices.SortFunc(l.VirtualHosts, func(a, b *VirtualHost) int { return cmp.Compare(a.Domain, b.Domain) })
	l.vhosts = indexVirtualHosts(l.VirtualHosts)
	l.chains = hostIndex[*FilterChain]{}
	for _, fc := range l.FilterChains {
		for _, name := range fc.ServerNames {
			l.chains.add(name, fc)
		}
		fc.index()
	}
	l.chains.finish()
}

func indexVirtualHosts(vhs []*VirtualHost) hostIndex[*VirtualHost] {
	var x hostIndex[*VirtualHost]
	for _, vh := range vhs {
		x.add(vh.Domain, vh)
	}
	x.finish()
	return x
}

// virtualHost selects the virtual host for a Host header as Envoy does: an exact domain first,
// then the longest matching suffix wildcard, then "*". The port is ignored (Istio sets
// ignore_port_in_host_matching) and the comparison is case-insensitive.
func (l *Listener) virtualHost(hostHeader string) *VirtualHost {
	vh, _ := l.vhosts.lookup(strings.ToLower(stripPort(hostHeader)))
	return vh
}

// filterChain selects the filter chain for a ClientHello's server name as Envoy matches
// server_names: exact, then the longest wildcard suffix, then the chain without names (a "*"
// server host), which also takes connections that sent no SNI. Nil: close the connection.
func (l *Listener) filterChain(serverName string) *FilterChain {
	fc, _ := l.chains.lookup(serverName)
	return fc
}

// hostIndex selects a value by host name: an exact name, then the longest "*.suffix" wildcard
// (which stands for at least one character), then "*". Names are lowercase.
type hostIndex[T any] struct {
	exact    map[string]T
	suffixes []suffixEntry[T] // longest suffix first
	any      T
	hasAny   bool
}

type suffixEntry[T any] struct {
	suffix string // ".example.com"
	value  T
}

// add indexes a name; the first value added for a name keeps it.
func (x *hostIndex[T]) add(name string, v T) {
	switch {
	case name == "*":
		if !x.hasAny {
			x.any, x.hasAny = v, true
		}
	case strings.HasPrefix(name, "*"):
		for _, e := range x.suffixes {
			if e.suffix == name[1:] {
				return
			}
		}
		x.suffixes = append(x.suffixes, suffixEntry[T]{suffix: name[1:], value: v})
	default:
		if x.exact == nil {
			x.exact = map[string]T{}
		}
		if _, ok := x.exact[name]; !ok {
			x.exact[name] = v
		}
	}
}

func (x *hostIndex[T]) finish() {
	slices.SortStableFunc(x.suffixes, func(a, b suffixEntry[T]) int { return cmp.Compare(len(b.suffix), len(a.suffix)) })
}

func (x *hostIndex[T]) lookup(host string) (T, bool) {
	if v, ok := x.exact[host]; ok {
		return v, true
	}
	for _, e := range x.suffixes {
		if len(host) > len(e.suffix) && strings.HasSuffix(host, e.suffix) {
			return e.value, true
		}
	}
	return x.any, x.hasAny
}

// stripPort removes a trailing ":port" from a Host header, leaving IPv6 literals intact.
func stripPort(host string) string {
	i := strings.LastIndexByte(host, ':')
	if i < 0 || strings.IndexByte(host[i:], ']') >= 0 {
		return host
	}
	if strings.HasPrefix(host, "[") || strings.IndexByte(host[:i], ':') < 0 {
		return host[:i]
	}
	// A bare IPv6 address without brackets has no port.
	return host
}
