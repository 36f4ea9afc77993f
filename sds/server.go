package sds

import (
	"context"
	"fmt"
	"log/slog"

	clusterservice "github.com/envoyproxy/go-control-plane/envoy/service/cluster/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	endpointservice "github.com/envoyproxy/go-control-plane/envoy/service/endpoint/v3"
	listenerservice "github.com/envoyproxy/go-control-plane/envoy/service/listener/v3"
	routeservice "github.com/envoyproxy/go-control-plane/envoy/service/route/v3"
	secretservice "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	xdslog "github.com/envoyproxy/go-control-plane/pkg/log"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/config"
	sotw "github.com/envoyproxy/go-control-plane/pkg/server/sotw/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ServerOptions configure a Server; the zero value is usable.
type ServerOptions struct {
	Logger *slog.Logger
	// Registerer gets the xDS stream metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Namespace resolves kubernetes:// names for a proxy whose node carries no namespace (neither
	// metadata NAMESPACE nor an Istio node id). Default istio-system, Istio's gateway namespace.
	Namespace string
	// Caches serve further resource types (Listeners, Clusters, ...) on the same server and
	// streams, keyed by type URL. The Secret type is always served from the Store.
	Caches map[string]cachev3.Cache
	// Peer tells a remote proxy's stream from a local one: the workload it proved it is with
	// its certificate, nil for a local stream (loopback, Unix socket), which is trusted. An
	// error refuses the stream. A remote proxy sees only what its identity may (checkRemote).
	// Nil: every stream is local.
	Peer func(ctx context.Context) (*RemotePeer, error)
}

// Server is Gatehouse's one xDS server: SDS today, and through ServerOptions.Caches every other
// type later components produce for proxies, over ADS and the per-type services, state of the
// world and delta.
type Server struct {
	log     *slog.Logger
	store   *Store
	secrets *secretCache
	cache   *cachev3.MuxCache
	xds     serverv3.Server
	ctx     context.Context
	stop    context.CancelFunc
}

// NewServer builds the server over store. Register it on a gRPC server, and Run it so Store
// changes reach the proxies.
func NewServer(store *Store, opts ServerOptions) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Namespace == "" {
		opts.Namespace = "istio-system"
	}
	log := opts.Logger.With("component", "xds")
	secrets := newSecretCache(store, log, opts.Namespace)
	caches := map[string]cachev3.Cache{unservedType: unservedCache{}}
	for typ, c := range opts.Caches {
		caches[typ] = c
	}
	caches[resourcev3.SecretType] = secrets
	classify := func(typeURL string) string {
		if _, ok := caches[typeURL]; ok {
			return typeURL
		}
		return unservedType
	}
	mux := &cachev3.MuxCache{
		Classify:      func(r *cachev3.Request) string { return classify(r.GetTypeUrl()) },
		ClassifyDelta: func(r *cachev3.DeltaRequest) string { return classify(r.GetTypeUrl()) },
		Caches:        caches,
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &Server{log: log, store: store, secrets: secrets, cache: mux, ctx: ctx, stop: stop}
	cb := newCallbacks(log, opts.Registerer)
	cb.peerOf = opts.Peer
	s.xds = serverv3.NewServer(ctx, mux, cb, xdsLogger(log))
	return s
}

// Register adds the Secret Discovery Service and the Aggregated Discovery Service to g, and the
// per-type service of every other type in ServerOptions.Caches that has one.
func (s *Server) Register(g *grpc.Server) {
	secretservice.RegisterSecretDiscoveryServiceServer(g, s.xds)
	discovery.RegisterAggregatedDiscoveryServiceServer(g, s.xds)
	for typ := range s.cache.Caches {
		switch typ {
		case resourcev3.ListenerType:
			listenerservice.RegisterListenerDiscoveryServiceServer(g, s.xds)
		case resourcev3.ClusterType:
			clusterservice.RegisterClusterDiscoveryServiceServer(g, s.xds)
		case resourcev3.RouteType:
			routeservice.RegisterRouteDiscoveryServiceServer(g, s.xds)
		case resourcev3.EndpointType:
			endpointservice.RegisterEndpointDiscoveryServiceServer(g, s.xds)
		}
	}
}

// Run pushes every Store change to the subscribed proxies until ctx is done, then ends the open
// streams. It returns nil.
func (s *Server) Run(ctx context.Context) error {
	defer s.stop()
	for {
		_, changed := s.store.Version()
		s.secrets.notify()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil
		case <-s.ctx.Done():
			return nil
		}
	}
}

// unservedType is the MuxCache key for types nothing produces yet.
const unservedType = ""

// unservedCache holds watches for resource types nothing produces (yet), so a proxy that asks
// for one over ADS keeps its stream, and its Secrets, instead of losing it to an error.
type unservedCache struct{}

func (unservedCache) CreateWatch(*cachev3.Request, cachev3.Subscription, chan cachev3.Response) (func(), error) {
	return func() {}, nil
}

func (unservedCache) CreateDeltaWatch(*cachev3.DeltaRequest, cachev3.Subscription, chan cachev3.DeltaResponse) (func(), error) {
	return func() {}, nil
}

func (unservedCache) Fetch(_ context.Context, req *cachev3.Request) (cachev3.Response, error) {
	return nil, status.Errorf(codes.NotFound, "no %s resources are served", req.GetTypeUrl())
}

// xdsLogger routes go-control-plane's own messages (stale nonces, watch errors) to debug,
// keeping its warnings and errors visible.
func xdsLogger(log *slog.Logger) config.XDSOption {
	return sotw.WithLogger(xdslog.LoggerFuncs{
		DebugFunc: func(f string, a ...any) { log.Debug(fmt.Sprintf(f, a...)) },
		InfoFunc:  func(f string, a ...any) { log.Debug(fmt.Sprintf(f, a...)) },
		WarnFunc:  func(f string, a ...any) { log.Warn(fmt.Sprintf(f, a...)) },
		ErrorFunc: func(f string, a ...any) { log.Error(fmt.Sprintf(f, a...)) },
	})
}
