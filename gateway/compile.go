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

	t := &Table{Version: snap.Version, byKey: map[ListenerKey]*Listener{}}
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
		l := c.listener(k, groups[k])
		t.Listeners = append(t.Listeners, l)
		t.byKey[k] = l
	}
	for _, name := range slices.Sorted(maps.Keys(c.clusters)) {
		t.Clusters = append(t.Clusters, c.clusters[name])
	}
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
}

func (s gatewayServer) field(sub string) string {
	f := fmt.Sprintf("spec.servers[%d]", s.index)
	if sub != "" {
		f += "." + sub
	}
	return f
}

// selectServers returns the plaintext HTTP servers of the Gateways whose selector matches the
// workload, from any namespace (Istio's default, PILOT_SCOPE_GATEWAY_TO_NAMESPACE=false), oldest
// Gateway first.
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
			switch p := strings.ToUpper(srv.GetPort().GetProtocol()); p {
			case "HTTP", "HTTP2", "GRPC", "GRPC-WEB":
				// Served as HTTP/1.1 and h2c on one plaintext port, as Envoy's codec AUTO does.
			case "HTTPS", "TLS":
				c.problems.warn(gw, s.field("port.protocol"), "%s servers are not served yet: this gateway serves plaintext HTTP only", p)
				continue
			default:
				c.problems.warn(gw, s.field("port.protocol"), "protocol %s is not served by the gateway (plaintext HTTP only)", p)
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
