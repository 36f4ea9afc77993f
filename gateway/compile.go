package gateway

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	networking "istio.io/api/networking/v1alpha3"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// Compile turns a snapshot into the Table this gateway workload serves. It is pure: the same
// snapshot and options give the same Table and problems. Problems of Error severity mean part
// of the config could not be compiled; Gateway.Apply refuses such a Table.
func Compile(snap *policy.Snapshot, opts CompileOptions) (*Table, policy.Problems) {
	opts = opts.withDefaults()
	c := &compiler{
		snap:     snap,
		opts:     opts,
		clusters: map[string]*Cluster{},
		routes:   map[routeKey][]*Route{},
	}
	c.indexServiceEntries()
	c.bindVirtualServices()

	mode := pathNormalization(snap)
	t := &Table{
		Version:           snap.Version,
		ForwardClientCert: forwardClientCertMode(snap),
		PathNormalization: mode.String(),
		NumTrustedProxies: numTrustedProxies(snap),
		pathMode:          mode,
		byKey:             map[ListenerKey]*Listener{},
	}
	groups := map[ListenerKey][]gatewayServer{}
	var keys []ListenerKey
	for _, s := range c.selectServers() {
		k := ListenerKey{Bind: s.server.GetBind(), Port: s.server.GetPort().GetNumber()}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], s)
	}
	slices.SortFunc(keys, func(a, b ListenerKey) int {
		return cmp.Or(cmp.Compare(a.Port, b.Port), cmp.Compare(a.Bind, b.Bind))
	})
	for _, k := range keys {
		l := c.listener(k, c.sameClass(k, groups[k]))
		l.index()
		t.Listeners = append(t.Listeners, l)
		t.byKey[k] = l
	}
	for _, name := range slices.Sorted(maps.Keys(c.clusters)) {
		t.Clusters = append(t.Clusters, c.clusters[name])
	}
	al, alProblems := accessLogConfig(snap)
	t.AccessLog = al
	c.problems.list = append(c.problems.list, alProblems...)
	c.problems.list.Sort()
	return t, c.problems.list
}

type compiler struct {
	snap     *policy.Snapshot
	opts     CompileOptions
	problems problems

	// bound lists, per Gateway "namespace/name", the VirtualServices that name it and are
	// visible from the workload's namespace, oldest first.
	bound map[string][]*policy.Resource
	// serviceEntries indexes visible ServiceEntries by host, oldest first.
	serviceEntries map[string][]*policy.Resource
	clusters       map[string]*Cluster
	routes         map[routeKey][]*Route
}

// gatewayServer is one server of a selected Gateway.
type gatewayServer struct {
	gateway *policy.Resource
	index   int
	server  *networking.Server
	class   serverClass
}

func (s gatewayServer) field(sub string) string {
	f := fmt.Sprintf("spec.servers[%d]", s.index)
	if sub != "" {
		f += "." + sub
	}
	return f
}

func (s gatewayServer) name() string {
	return fmt.Sprintf("%s: servers[%d]", s.gateway.NamespacedName(), s.index)
}

// serverClass is how a port is served. Servers of different classes cannot share a port.
type serverClass int

const (
	// classHTTP is plaintext HTTP/1.1 and h2c, as Envoy's codec AUTO serves HTTP, HTTP2, GRPC
	// and GRPC-WEB servers.
	classHTTP serverClass = iota + 1
	// classTLS peeks the ClientHello and selects a filter chain by SNI: HTTPS and TLS servers.
	classTLS
	// classTCP proxies bytes: TCP, and the protocols Istio proxies as TCP at a gateway.
	classTCP
)

func (k serverClass) String() string {
	switch k {
	case classHTTP:
		return "HTTP"
	case classTLS:
		return "TLS"
	}
	return "TCP"
}

// selectServers returns the servers of the Gateways whose selector matches the workload, from
// any namespace (Istio's default, PILOT_SCOPE_GATEWAY_TO_NAMESPACE=false), oldest Gateway first,
// leaving out (with a warning) what the gateway cannot serve.
func (c *compiler) selectServers() []gatewayServer {
	var out []gatewayServer
	for _, gw := range c.snap.List(policy.KindGateway) {
		spec, ok := gw.Spec.(*networking.Gateway)
		if !ok || !policy.SelectorMatches(spec.GetSelector(), c.opts.Labels) {
			continue
		}
		for i, srv := range spec.GetServers() {
			s := gatewayServer{gateway: gw, index: i, server: srv}
			if srv.GetPort() == nil {
				continue
			}
			if s.class, ok = c.classify(s); !ok {
				continue
			}
			if strings.HasPrefix(srv.GetBind(), "unix://") {
				c.problems.warn(gw, s.field("bind"), "unix domain socket binds are not served yet")
				continue
			}
			out = append(out, s)
		}
	}
	return out
}

// classify decides how a server is served; ok=false (after a warning) when it is not.
func (c *compiler) classify(s gatewayServer) (serverClass, bool) {
	switch p := strings.ToUpper(s.server.GetPort().GetProtocol()); p {
	case "HTTP", "HTTP2", "GRPC", "GRPC-WEB":
		return classHTTP, true
	case "TCP", "MONGO", "MYSQL", "REDIS":
		// Istio runs its Mongo, MySQL and Redis filters only behind feature flags that are off by
		// default: at a gateway these ports are plain TCP proxies.
		return classTCP, true
	case "HTTPS", "TLS":
		switch mode := s.server.GetTls().GetMode(); mode {
		case networking.ServerTLSSettings_AUTO_PASSTHROUGH:
			c.problems.warn(s.gateway, s.field("tls.mode"), "AUTO_PASSTHROUGH is not supported (it routes by Istio cluster names in the SNI): server skipped")
			return 0, false
		}
		return classTLS, true
	default:
		c.problems.warn(s.gateway, s.field("port.protocol"), "protocol %s is not served by the gateway", p)
		return 0, false
	}
}

// sameClass keeps the servers of a port that share the class of its first (oldest) server: one
// socket cannot be plaintext HTTP, TLS and raw TCP at once.
func (c *compiler) sameClass(k ListenerKey, servers []gatewayServer) []gatewayServer {
	out := servers[:1:1]
	for _, s := range servers[1:] {
		if s.class != servers[0].class {
			c.problems.warn(s.gateway, s.field("port"), "port %d is already served as %s by %s (the oldest Gateway wins): this %s server is skipped",
				k.Port, servers[0].class, servers[0].name(), s.class)
			continue
		}
		out = append(out, s)
	}
	return out
}

// listener compiles what one port serves.
func (c *compiler) listener(k ListenerKey, servers []gatewayServer) *Listener {
	l := &Listener{
		Bind: k.Bind, Port: k.Port, ListenPort: c.opts.listenPort(k.Port),
		Protocol: servers[0].class.String(), ProxyProtocol: proxyProtocol(c.snap),
	}
	if servers[0].class == classTCP {
		l.TCPRoute = c.tcpListenerRoute(k.Port, servers)
		servers = servers[:1]
	}
	for _, s := range servers {
		l.Servers = append(l.Servers, s.name())
	}
	switch servers[0].class {
	case classHTTP:
		l.VirtualHosts = c.virtualHosts(k.Port, servers)
	case classTLS:
		l.FilterChains = c.filterChains(k.Port, servers)
		c.permissive(l, k.Port, servers)
	}
	return l
}

// bindVirtualServices finds, for every Gateway, the VirtualServices bound to it.
func (c *compiler) bindVirtualServices() {
	c.bound = map[string][]*policy.Resource{}
	for _, vs := range c.snap.List(policy.KindVirtualService) {
		spec, ok := vs.Spec.(*networking.VirtualService)
		if !ok || !c.snap.VisibleFrom(vs, c.opts.Namespace) {
			continue
		}
		seen := map[string]bool{}
		for _, ref := range spec.GetGateways() {
			ns, name, ok := policy.GatewayRef(vs.Namespace, ref)
			gw := ns + "/" + name
			if !ok || seen[gw] {
				continue
			}
			seen[gw] = true
			c.bound[gw] = append(c.bound[gw], vs)
		}
	}
}
