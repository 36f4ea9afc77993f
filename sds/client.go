package sds

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretservice "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"
)

// ClientSource is the Store source a Client writes under.
const ClientSource = "sds"

// ClientOptions configure a Client; only Namespace matters in most uses.
type ClientOptions struct {
	Logger *slog.Logger
	// Namespace is this gateway's namespace: the server resolves kubernetes:// names in it (node
	// metadata NAMESPACE) and the Store keeps them as "<namespace>/<name>". Default istio-system.
	Namespace string
	// NodeID identifies the proxy to the server. Default an Istio-style router id for Namespace.
	NodeID string
	// DialOptions replace the default plaintext transport (loopback or a Unix socket).
	DialOptions []grpc.DialOption
	// MinBackoff and MaxBackoff bound the wait before reconnecting (defaults 100ms and 10s).
	MinBackoff, MaxBackoff time.Duration
	// InitialFetchTimeout is how long Synced waits for a wanted resource before giving up on it,
	// as Envoy's initial_fetch_timeout does (default 15s), so one missing Secret does not keep
	// the whole gateway unready.
	InitialFetchTimeout time.Duration
	// Now is the clock for checking received certificates and for Synced; nil is time.Now.
	Now func() time.Time
}

// Client subscribes to Secrets by name over SDS (StreamSecrets, state of the world), as Envoy
// does, and keeps what it receives in a local Store under source ClientSource, keyed by Store
// name. It ACKs good responses, NACKs a response with an unusable Secret (the last good
// credential keeps serving), and reconnects with backoff; what it received keeps serving while
// it is disconnected.
type Client struct {
	target string
	store  *Store
	opts   ClientOptions
	log    *slog.Logger
	node   *core.Node

	mu          sync.Mutex
	wanted      []string                     // sorted resource names
	wantedSince map[string]time.Time         // when each wanted name was first wanted
	received    map[string]map[string][]byte // resource name -> Store data, for wanted names only
	changed     chan struct{}                // signalled when wanted changes
}

// NewClient prepares a client for the SDS server at target ("host:port" or "unix:///path");
// Run connects.
func NewClient(target string, store *Store, opts ClientOptions) *Client {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Namespace == "" {
		opts.Namespace = "istio-system"
	}
	if opts.NodeID == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "gatehouse"
		}
		opts.NodeID = fmt.Sprintf("router~127.0.0.1~%s.%s~%s.svc.cluster.local", host, opts.Namespace, opts.Namespace)
	}
	if opts.DialOptions == nil {
		opts.DialOptions = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(10*time.Second, opts.MinBackoff)
	}
	if opts.InitialFetchTimeout <= 0 {
		opts.InitialFetchTimeout = 15 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Client{
		target: target, store: store, opts: opts,
		log: opts.Logger.With("component", "sds-client", "server", target),
		node: &core.Node{
			Id:            opts.NodeID,
			UserAgentName: "gatehouse",
			Metadata: &structpb.Struct{Fields: map[string]*structpb.Value{
				NodeMetadataNamespace: structpb.NewStringValue(opts.Namespace),
			}},
		},
		wantedSince: map[string]time.Time{},
		received:    map[string]map[string][]byte{},
		changed:     make(chan struct{}, 1),
	}
}

// Want replaces the set of SDS resource names the client subscribes to. Credentials of names no
// longer wanted leave the local Store at once.
func (c *Client) Want(names []string) {
	set := map[string]bool{}
	for _, n := range names {
		if n != "" && n != "*" {
			set[n] = true
		}
	}
	sorted := slices.Sorted(maps.Keys(set))
	c.mu.Lock()
	if slices.Equal(sorted, c.wanted) {
		c.mu.Unlock()
		return
	}
	c.wanted = sorted
	now := c.opts.Now()
	for _, n := range sorted {
		if _, ok := c.wantedSince[n]; !ok {
			c.wantedSince[n] = now
		}
	}
	maps.DeleteFunc(c.wantedSince, func(name string, _ time.Time) bool { return !set[name] })
	maps.DeleteFunc(c.received, func(name string, _ map[string][]byte) bool { return !set[name] })
	c.publishLocked()
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// Synced reports whether every wanted resource has arrived, or has been waited for longer than
// InitialFetchTimeout. A gateway is ready to serve TLS once it is.
func (c *Client) Synced() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.opts.Now()
	for _, n := range c.wanted {
		if _, ok := c.received[n]; !ok && now.Sub(c.wantedSince[n]) < c.opts.InitialFetchTimeout {
			return false
		}
	}
	return true
}

// publishLocked hands the received credentials to the Store. Called with mu held, so Store
// updates happen in the order the client decided them.
func (c *Client) publishLocked() {
	items := make(map[string]map[string][]byte, len(c.received))
	for name, data := range c.received {
		items[StoreName(c.opts.Namespace, name)] = data
	}
	c.store.ReplaceSource(ClientSource, items)
}

func (c *Client) wantedNames() ([]string, map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	set := make(map[string]bool, len(c.wanted))
	for _, n := range c.wanted {
		set[n] = true
	}
	return c.wanted, set
}

// Run keeps a stream to the server open until ctx is done, reconnecting with jittered
// exponential backoff. It returns an error only when the target cannot be used at all.
func (c *Client) Run(ctx context.Context) error {
	conn, err := grpc.NewClient(c.target, c.opts.DialOptions...)
	if err != nil {
		return fmt.Errorf("sds client %s: %w", c.target, err)
	}
	defer conn.Close()
	sds := secretservice.NewSecretDiscoveryServiceClient(conn)
	backoff := c.opts.MinBackoff
	for {
		gotResponse, err := c.stream(ctx, sds)
		if ctx.Err() != nil {
			return nil
		}
		if gotResponse {
			backoff = c.opts.MinBackoff
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		c.log.Warn("SDS stream ended; the credentials received so far keep serving", "error", err, "retryIn", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, c.opts.MaxBackoff)
	}
}

type streamEvent struct {
	resp *discovery.DiscoveryResponse
	err  error
}

// stream runs one StreamSecrets call until it fails. It reports whether any response arrived.
func (c *Client) stream(ctx context.Context, sds secretservice.SecretDiscoveryServiceClient) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := sds.StreamSecrets(ctx, grpc.WaitForReady(true))
	if err != nil {
		return false, err
	}
	events := make(chan streamEvent)
	go func() {
		for {
			resp, err := st.Recv()
			select {
			case events <- streamEvent{resp, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()

	// version and nonce are the last accepted version and the last response seen; every request
	// carries them with the current names, so a name change and an ACK are the same message.
	var version, nonce string
	var sent []string
	first := true
	send := func(names []string, detail *status.Status) error {
		req := &discovery.DiscoveryRequest{
			VersionInfo: version, ResponseNonce: nonce, ResourceNames: names,
			TypeUrl: resourcev3.SecretType, ErrorDetail: detail,
		}
		if first {
			req.Node = c.node // Envoy sends the node once per stream
			first = false
		}
		sent = names
		return st.Send(req)
	}
	if names, _ := c.wantedNames(); len(names) > 0 {
		if err := send(names, nil); err != nil {
			return false, err
		}
	}
	gotResponse := false
	for {
		select {
		case <-ctx.Done():
			return gotResponse, ctx.Err()
		case <-c.changed:
			// An empty name list would read as a wildcard to some servers: say nothing instead;
			// the Store already dropped what is no longer wanted.
			if names, _ := c.wantedNames(); len(names) > 0 && !slices.Equal(names, sent) {
				if err := send(names, nil); err != nil {
					return gotResponse, err
				}
			}
		case ev := <-events:
			if ev.err != nil {
				return gotResponse, ev.err
			}
			gotResponse = true
			nonce = ev.resp.GetNonce()
			names, set := c.wantedNames()
			detail := c.apply(ev.resp, set)
			if detail == nil {
				version = ev.resp.GetVersionInfo()
			}
			if err := send(names, detail); err != nil {
				return gotResponse, err
			}
		}
	}
}

// apply stores a good response and returns nil (ACK), or returns the reason to NACK it.
func (c *Client) apply(resp *discovery.DiscoveryResponse, wanted map[string]bool) *status.Status {
	items, err := receivedSecrets(resp, wanted, c.opts.Now())
	if err != nil {
		c.log.Error("SDS response rejected (NACK); the last good credentials keep serving", "version", resp.GetVersionInfo(), "error", err)
		return &status.Status{Code: int32(codes.InvalidArgument), Message: err.Error()}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, data := range items {
		// Want may have dropped the name while the response was on its way.
		if slices.Contains(c.wanted, name) {
			c.received[name] = data
		}
	}
	c.publishLocked()
	c.log.Debug("SDS response applied", "version", resp.GetVersionInfo(), "resources", slices.Sorted(maps.Keys(items)))
	return nil
}
