package meshmode

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse-dev/gatehouse/ca/posture"
)

// Workload is who the sidecar is, as istio-agent announces it in the node.
type Workload struct {
	// Name is the pod name (or, outside Kubernetes, the host name).
	Name, Namespace, ServiceAccount string
	Labels                          map[string]string
	// IP is the workload's address; default 127.0.0.1.
	IP string
}

// Node is the Envoy node istio-agent sends for a sidecar: id
// "sidecar~<ip>~<name>.<namespace>~<namespace>.svc.cluster.local" and metadata NAMESPACE,
// SERVICE_ACCOUNT and LABELS, from which istiod (and ca/meshxds) know the workload.
func Node(w Workload) (*core.Node, error) {
	ip := w.IP
	if ip == "" {
		ip = "127.0.0.1"
	}
	labels := map[string]any{}
	for k, v := range w.Labels {
		labels[k] = v
	}
	md, err := structpb.NewStruct(map[string]any{
		"NAMESPACE":       w.Namespace,
		"SERVICE_ACCOUNT": w.ServiceAccount,
		"LABELS":          labels,
	})
	if err != nil {
		return nil, fmt.Errorf("node metadata: %w", err)
	}
	return &core.Node{
		Id:       "sidecar~" + ip + "~" + w.Name + "." + w.Namespace + "~" + w.Namespace + ".svc.cluster.local",
		Metadata: md,
	}, nil
}

// Options configure a Client.
type Options struct {
	Logger *slog.Logger
	// Node identifies the sidecar (see Node), asked before each stream: a server that knows a
	// remote proxy by its certificate wants the node to name the same identity, and the
	// certificate may change between streams. Required.
	Node func() (*core.Node, error)
	// DialOptions are the gRPC transport: TLS with the workload certificate for a remote server.
	DialOptions []grpc.DialOption
	// Token, when it returns a non-empty string, is sent as "authorization: Bearer <token>" on
	// each stream, for a server that admits a proxy's first connection with a bootstrap token.
	Token func() string
	// OnPolicy is called with every mode set the server sends that differs from the last one,
	// from the goroutine running Run.
	OnPolicy func(posture.Policy)
	// MinBackoff and MaxBackoff bound the wait before reconnecting (defaults 100ms and 10s).
	MinBackoff, MaxBackoff time.Duration
}

// Client keeps a sidecar's mode set in step with the xDS server: it subscribes to Listeners
// (wildcard, as Envoy's LDS does) over ADS, ACKs what it can read and NACKs what it cannot, and
// reconnects with backoff. The last modes received stay in force while it is disconnected.
type Client struct {
	target string
	o      Options
	last   *posture.Policy
}

// NewClient prepares a client for the ADS server at target; Run connects.
func NewClient(target string, o Options) *Client {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Second
	}
	return &Client{target: target, o: o}
}

// Run streams until ctx ends, reconnecting after every failure.
func (c *Client) Run(ctx context.Context) error {
	backoff := c.o.MinBackoff
	for {
		got, err := c.stream(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if got {
			backoff = c.o.MinBackoff
		}
		c.o.Logger.Warn("mesh mode: xDS stream ended; reconnecting", "server", c.target, "error", err, "retryIn", backoff)
		// Jitter keeps a fleet of sidecars from reconnecting in step after a server restart.
		wait := backoff/2 + rand.N(backoff/2+1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, c.o.MaxBackoff)
	}
}

// stream runs one ADS stream; got reports whether the server answered at least once.
func (c *Client) stream(ctx context.Context) (got bool, err error) {
	node, err := c.o.Node()
	if err != nil {
		return false, err
	}
	conn, err := grpc.NewClient(c.target, c.o.DialOptions...)
	if err != nil {
		return false, fmt.Errorf("dial %s: %w", c.target, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if c.o.Token != nil {
		if tok := c.o.Token(); tok != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
		}
	}
	st, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return false, err
	}
	if err := st.Send(&discovery.DiscoveryRequest{Node: node, TypeUrl: resourcev3.ListenerType}); err != nil {
		return false, err
	}
	acked := ""
	for {
		res, err := st.Recv()
		if err != nil {
			return got, err
		}
		got = true
		if res.GetTypeUrl() != resourcev3.ListenerType {
			continue
		}
		ack := &discovery.DiscoveryRequest{TypeUrl: resourcev3.ListenerType, ResponseNonce: res.GetNonce()}
		pol, ok, err := FromResources(res.GetResources())
		switch {
		case err != nil:
			// NACK: the previous version stays in force, as Envoy keeps its last good config.
			ack.VersionInfo = acked
			ack.ErrorDetail = &status.Status{Code: int32(codes.InvalidArgument), Message: err.Error()}
			c.o.Logger.Error("mesh mode: Listener update refused; the previous modes stay", "version", res.GetVersionInfo(), "error", err)
		case !ok:
			acked, ack.VersionInfo = res.GetVersionInfo(), res.GetVersionInfo()
			c.o.Logger.Warn("mesh mode: the server sent no "+VirtualInbound+" listener; the previous modes stay", "version", res.GetVersionInfo())
		default:
			acked, ack.VersionInfo = res.GetVersionInfo(), res.GetVersionInfo()
			c.deliver(pol, res.GetVersionInfo())
		}
		if err := st.Send(ack); err != nil {
			return got, err
		}
	}
}

// deliver hands a mode set on when it differs from the last one.
func (c *Client) deliver(pol posture.Policy, version string) {
	if c.last != nil && c.last.Default == pol.Default && maps.Equal(c.last.Ports, pol.Ports) {
		return
	}
	c.last = &pol
	c.o.Logger.Info("mesh mode: received", "version", version, "default", pol.Default, "ports", pol.Ports)
	if c.o.OnPolicy != nil {
		c.o.OnPolicy(pol)
	}
}
