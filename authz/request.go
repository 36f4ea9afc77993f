package authz

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// Workload is the proxy whose policies apply to a request: the gateway itself in-process, or the
// workload an ext_authz caller names. Build it once with NewWorkload and reuse it: its precomputed
// key lets Check find the workload's compiled policy set without allocating.
type Workload struct {
	// Namespace is the workload's namespace: policies there (and in the root namespace) can apply.
	Namespace string
	// Labels are the workload's labels, matched by `selector.matchLabels`. The label
	// gateway.networking.k8s.io/gateway-name names the Gateway API Gateway it implements, which a
	// targetRef of kind Gateway selects.
	Labels map[string]string
	// Services are the names of the Services (in Namespace) that select the workload; a targetRef
	// of kind Service (core group) selects the workload by one of them.
	Services []string

	key string
}

// NewWorkload returns a Workload with its key computed. The maps and slices are kept, not copied:
// the caller must not modify them afterwards.
func NewWorkload(namespace string, labels map[string]string, services ...string) *Workload {
	w := &Workload{Namespace: namespace, Labels: labels, Services: services}
	w.key = workloadKey(w)
	return w
}

// Key identifies the workload's policy selection: equal keys select the same policies.
func (w *Workload) Key() string {
	if w.key != "" {
		return w.key
	}
	return workloadKey(w)
}

func workloadKey(w *Workload) string {
	var b strings.Builder
	b.WriteString(w.Namespace)
	keys := make([]string, 0, len(w.Labels))
	for k := range w.Labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteString("\x00")
		b.WriteString(k)
		b.WriteString("=")
		b.WriteString(w.Labels[k])
	}
	b.WriteString("\x01")
	svcs := slices.Clone(w.Services)
	slices.Sort(svcs)
	b.WriteString(strings.Join(svcs, "\x00"))
	return b.String()
}

// Request is what authorization reads from one HTTP request or TCP connection. The gateway fills it
// in-process; the ext_authz servers fill it from a CheckRequest. Check reads it and never keeps or
// modifies it.
type Request struct {
	// Workload selects the policies that apply. Nil is refused (fail closed).
	Workload *Workload

	// HTTP is false for TCP traffic: then Method, Host, Path, RawQuery, Header and any JWT are
	// absent, and rules that use HTTP-only attributes behave as Istio's TCP filter chain does
	// (an ALLOW rule with any HTTP-only field never matches; a DENY, AUDIT or CUSTOM rule ignores
	// those fields and so matches more).
	HTTP bool
	// Method is the HTTP method (":method"), as sent: methods compare case-sensitively.
	Method string
	// Host is the authority (":authority"/Host) as sent, port included if the client sent one:
	// `hosts: ["example.com"]` does not match "example.com:8080", as in Istio.
	Host string
	// Path is the request path without the query, already normalized by the gateway per MeshConfig
	// pathNormalization (the same path the upstream receives).
	Path string
	// RawQuery is the query string without '?', undecoded; JWTs may be read from it (fromParams).
	RawQuery string
	// Scheme is "http" or "https" (":scheme").
	Scheme string
	// Header holds the request headers with canonical keys (net/http form), Cookie included.
	Header http.Header

	// Source is the downstream peer's address (the connection's remote address): `ipBlocks` and
	// `source.ip` read its IP.
	Source netip.AddrPort
	// RemoteIP is the original client IP as trusted per MeshConfig gatewayTopology
	// numTrustedProxies (X-Forwarded-For or PROXY protocol), computed by the caller; equal to the
	// Source IP when nothing is trusted. `remoteIpBlocks` and `remote.ip` read it.
	RemoteIP netip.Addr
	// Destination is the local address the connection arrived at: `destination.ip`, and
	// `ports`/`destination.port` read it.
	Destination netip.AddrPort
	// SourcePrincipal is the peer's SPIFFE ID without "spiffe://" (cluster.local/ns/default/sa/sleep)
	// from its verified mTLS certificate, "" without mTLS. principals, namespaces, serviceAccounts,
	// trustDomains and the source.* identity keys read it.
	SourcePrincipal string
	// SNI is the TLS server name the client sent (`connection.sni`), "" without TLS.
	SNI string
	// FilterMetadata is Envoy dynamic metadata by filter name then key, as an ext_authz
	// CheckRequest's metadata_context carries it, for `experimental.envoy.filters.*` conditions.
	// Values are strings or lists ([]string or []any of strings). Nil in-process.
	FilterMetadata map[string]map[string]any
}

// header returns the value of a request header as Envoy's header matcher sees it: several values of
// one header are joined with ',' (RFC 9110). Pseudo-headers come from the request line.
func (r *Request) header(canonical string) (string, bool) {
	switch canonical {
	case ":authority", "Host":
		return r.Host, true
	case ":method":
		return r.Method, true
	case ":path":
		if r.RawQuery != "" {
			return r.Path + "?" + r.RawQuery, true
		}
		return r.Path, true
	case ":scheme":
		return r.Scheme, r.Scheme != ""
	}
	vs := r.Header[canonical]
	switch len(vs) {
	case 0:
		return "", false
	case 1:
		return vs[0], true
	}
	return strings.Join(vs, ","), true
}

// unmapped returns an address without IPv4-in-IPv6 mapping, as policy blocks are compiled.
func unmapped(a netip.Addr) netip.Addr { return a.Unmap() }
