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

	byKey map[ListenerKey]*Listener
}

// listener returns what a listener serves, or nil when the Table has no such listener.
func (t *Table) listener(k ListenerKey) *Listener { return t.byKey[k] }

// ListenerKey names one listener: a Gateway server port on a bind address.
type ListenerKey struct {
	// Bind is the server's bind address; empty means Options.BindAddress.
	Bind string
	// Port is the server port (servers[].port.number), before PortMap.
	Port uint32
}

// Listener is everything served on one port: the plaintext HTTP servers of every selected
// Gateway that use it, merged as Istio merges them into one route configuration.
type Listener struct {
	Bind string `yaml:"bind,omitempty"`
	Port uint32 `yaml:"port"`
	// ListenPort is Port after CompileOptions.PortMap.
	ListenPort uint32 `yaml:"listenPort"`
	// Protocol is HTTP: plaintext HTTP/1.1 and h2c. TLS protocols come later.
	Protocol string `yaml:"protocol"`
	// Servers names the Gateway servers merged here, "namespace/name: servers[i]".
	Servers      []string       `yaml:"servers"`
	VirtualHosts []*VirtualHost `yaml:"virtualHosts"`

	exact    map[string]*VirtualHost
	suffixes []*VirtualHost // "*.example.com" domains, longest suffix first
	any      *VirtualHost   // the "*" domain
}

// Key returns the listener's key.
func (l *Listener) Key() ListenerKey { return ListenerKey{Bind: l.Bind, Port: l.Port} }

// VirtualHost is one domain of a listener and its routes, in the order they are tried.
type VirtualHost struct {
	// Domain is exact ("shop.example.com"), a suffix wildcard ("*.example.com") or "*".
	Domain string `yaml:"domain"`
	// RequireTLS redirects every request to https, for servers with tls.httpsRedirect.
	RequireTLS bool     `yaml:"requireTLS,omitempty"`
	Routes     []*Route `yaml:"routes"`
}

// index builds the lookup structures for Envoy's domain selection.
func (l *Listener) index() {
	slices.SortFunc(l.VirtualHosts, func(a, b *VirtualHost) int { return cmp.Compare(a.Domain, b.Domain) })
	l.exact = map[string]*VirtualHost{}
	l.suffixes = nil
	l.any = nil
	for _, vh := range l.VirtualHosts {
		switch {
		case vh.Domain == "*":
			l.any = vh
		case strings.HasPrefix(vh.Domain, "*"):
			l.suffixes = append(l.suffixes, vh)
		default:
			l.exact[vh.Domain] = vh
		}
	}
	slices.SortStableFunc(l.suffixes, func(a, b *VirtualHost) int { return cmp.Compare(len(b.Domain), len(a.Domain)) })
}

// virtualHost selects the virtual host for a Host header as Envoy does: an exact domain first,
// then the longest matching suffix wildcard, then "*". The port is ignored (Istio sets
// ignore_port_in_host_matching) and the comparison is case-insensitive.
func (l *Listener) virtualHost(hostHeader string) *VirtualHost {
	host := strings.ToLower(stripPort(hostHeader))
	if vh, ok := l.exact[host]; ok {
		return vh
	}
	for _, vh := range l.suffixes {
		suffix := vh.Domain[1:]
		// The wildcard stands for at least one character, as in Envoy.
		if len(host) > len(suffix) && strings.HasSuffix(host, suffix) {
			return vh
		}
	}
	return l.any
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
