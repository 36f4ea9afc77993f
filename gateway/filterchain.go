package gateway

import (
	"strings"
	"sync/atomic"
)

// FilterChain is what a TLS listener does with the connections whose SNI it takes, as an Envoy
// filter chain built by Istio for one Gateway server (or, for PASSTHROUGH, one tls route match):
// terminate TLS and serve HTTP (VirtualHosts) or proxy the decrypted bytes (Route), or pass the
// TLS bytes through untouched (Route).
type FilterChain struct {
	// ServerNames are the SNI names taken: exact, "*.suffix", or "*" for every name not taken by
	// another chain and for connections without SNI.
	ServerNames []string `yaml:"serverNames"`
	// Server names the Gateway server, "namespace/name: servers[i]".
	Server string `yaml:"server"`
	// Protocol is the server's: HTTPS (HTTP over TLS) or TLS.
	Protocol string `yaml:"protocol"`
	// Mode is SIMPLE, MUTUAL, OPTIONAL_MUTUAL or ISTIO_MUTUAL (terminate), or PASSTHROUGH.
	Mode string `yaml:"mode"`
	// TLS says how to terminate; nil for PASSTHROUGH.
	TLS *ServerTLS `yaml:"tls,omitempty"`
	// VirtualHosts are served, over the terminated connection, for HTTPS servers.
	VirtualHosts []*VirtualHost `yaml:"virtualHosts,omitempty"`
	// Route is where bytes go: the tls route of a PASSTHROUGH chain, the tcp route of a
	// terminating TLS server.
	Route *TCPRoute `yaml:"route,omitempty"`

	// id identifies what a client negotiated with this chain: its server and TLS settings. A
	// connection kept across a reload keeps serving from the new Table's chain only if the id is
	// the same; session tickets are scoped by it.
	id     string
	vhosts hostIndex[*VirtualHost]
	// config caches the tls.Config built from the credential store.
	config atomic.Pointer[chainConfig]
}

// Modes of a FilterChain that change how it serves; the others (SIMPLE, MUTUAL) follow from its
// ServerTLS.
const (
	modePassthrough    = "PASSTHROUGH"
	modeOptionalMutual = "OPTIONAL_MUTUAL"
)

func (fc *FilterChain) passthrough() bool { return fc.Mode == modePassthrough }

// servesHTTP reports whether the terminated connection carries HTTP.
func (fc *FilterChain) servesHTTP() bool { return fc.TLS != nil && fc.Protocol != "TLS" }

func (fc *FilterChain) index() {
	fc.vhosts = indexVirtualHosts(fc.VirtualHosts)
	var b strings.Builder
	b.WriteString(fc.Server)
	b.WriteString("|")
	b.WriteString(fc.Protocol)
	b.WriteString("|")
	b.WriteString(fc.Mode)
	if fc.TLS != nil {
		b.WriteString("|")
		b.WriteString(fc.TLS.identity())
	}
	fc.id = b.String()
}

func (fc *FilterChain) virtualHost(hostHeader string) *VirtualHost {
	vh, _ := fc.vhosts.lookup(strings.ToLower(stripPort(hostHeader)))
	return vh
}

// normalizeServerName lowercases an SNI and drops a trailing dot, as DNS names compare.
func normalizeServerName(sni string) string {
	return strings.TrimSuffix(strings.ToLower(sni), ".")
}
