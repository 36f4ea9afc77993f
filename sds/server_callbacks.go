package sds

import (
	"context"
	"log/slog"
	"strings"
	"sync"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"github.com/prometheus/client_golang/prometheus"
)

// callbacks log and count the xDS protocol: streams, responses, and the NACKs proxies send when
// they reject a response (the proxy keeps its previous config; the next change is pushed as
// usual, never the rejected response again).
type callbacks struct {
	log       *slog.Logger
	streams   *prometheus.GaugeVec
	responses *prometheus.CounterVec
	nacks     *prometheus.CounterVec

	// peerOf is ServerOptions.Peer; nil: every stream is local.
	peerOf func(context.Context) (*RemotePeer, error)

	mu    sync.Mutex
	sent  map[int64]map[string]sentResponse // stream -> type URL -> last response
	peers map[int64]*RemotePeer             // stream -> its remote peer; absent for local streams
}

type sentResponse struct{ nonce, version string }

var _ serverv3.Callbacks = (*callbacks)(nil)

func newCallbacks(log *slog.Logger, reg prometheus.Registerer) *callbacks {
	c := &callbacks{
		log: log,
		streams: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gatehouse_xds_streams",
			Help: "Open xDS streams from proxies, by protocol variant (sotw, delta).",
		}, []string{"variant"}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_xds_responses_total",
			Help: "xDS responses sent to proxies (initial answers and pushes), by resource type.",
		}, []string{"type"}),
		nacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_xds_nacks_total",
			Help: "xDS responses a proxy rejected (NACK), by resource type.",
		}, []string{"type"}),
		sent:  map[int64]map[string]sentResponse{},
		peers: map[int64]*RemotePeer{},
	}
	if reg != nil {
		reg.MustRegister(c.streams, c.responses, c.nacks)
	}
	return c
}

// shortType is "Secret" for "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret".
func shortType(typeURL string) string {
	return typeURL[strings.LastIndexByte(typeURL, '.')+1:]
}

func (c *callbacks) OnStreamOpen(ctx context.Context, id int64, typeURL string) error {
	if err := c.admit(ctx, id); err != nil {
		return err
	}
	c.streams.WithLabelValues("sotw").Inc()
	c.log.Debug("xDS stream opened", "stream", id, "type", typeURL)
	return nil
}

// admit records a stream's remote peer, or refuses the stream.
func (c *callbacks) admit(ctx context.Context, id int64) error {
	p, err := c.remoteOf(ctx)
	if err != nil {
		c.log.Warn("xDS stream refused", "stream", id, "error", err)
		return err
	}
	if p != nil {
		c.mu.Lock()
		c.peers[id] = p
		c.mu.Unlock()
	}
	return nil
}

// authorize applies checkRemote to a remote stream's request.
func (c *callbacks) authorize(id int64, node *core.Node, typeURL string, names []string) error {
	c.mu.Lock()
	p := c.peers[id]
	c.mu.Unlock()
	if p == nil {
		return nil
	}
	if err := checkRemote(p, node, typeURL, names); err != nil {
		c.log.Warn("xDS request refused", "stream", id, "node", node.GetId(), "type", typeURL, "error", err)
		return err
	}
	return nil
}

func (c *callbacks) OnStreamClosed(id int64, node *core.Node) {
	c.streams.WithLabelValues("sotw").Dec()
	c.mu.Lock()
	delete(c.sent, id)
	delete(c.peers, id)
	c.mu.Unlock()
	c.log.Debug("xDS stream closed", "stream", id, "node", node.GetId())
}

func (c *callbacks) OnStreamRequest(id int64, req *discovery.DiscoveryRequest) error {
	if err := c.authorize(id, req.GetNode(), req.GetTypeUrl(), req.GetResourceNames()); err != nil {
		return err
	}
	if req.GetErrorDetail() == nil {
		c.log.Debug("xDS request", "stream", id, "node", req.GetNode().GetId(), "type", req.GetTypeUrl(),
			"version", req.GetVersionInfo(), "nonce", req.GetResponseNonce(), "resources", req.GetResourceNames())
		return nil
	}
	c.nacks.WithLabelValues(shortType(req.GetTypeUrl())).Inc()
	c.mu.Lock()
	last := c.sent[id][req.GetTypeUrl()]
	c.mu.Unlock()
	attrs := []any{"stream", id, "node", req.GetNode().GetId(), "type", req.GetTypeUrl(),
		"keptVersion", req.GetVersionInfo(), "nonce", req.GetResponseNonce(), "resources", req.GetResourceNames(),
		"error", req.GetErrorDetail().GetMessage()}
	if last.nonce == req.GetResponseNonce() {
		attrs = append(attrs, "rejectedVersion", last.version)
	}
	c.log.Warn("proxy rejected an xDS response (NACK); it keeps its previous config", attrs...)
	return nil
}

func (c *callbacks) OnStreamResponse(_ context.Context, id int64, req *discovery.DiscoveryRequest, resp *discovery.DiscoveryResponse) {
	c.responses.WithLabelValues(shortType(resp.GetTypeUrl())).Inc()
	c.mu.Lock()
	if c.sent[id] == nil {
		c.sent[id] = map[string]sentResponse{}
	}
	c.sent[id][resp.GetTypeUrl()] = sentResponse{nonce: resp.GetNonce(), version: resp.GetVersionInfo()}
	c.mu.Unlock()
	c.log.Debug("xDS response", "stream", id, "node", req.GetNode().GetId(), "type", resp.GetTypeUrl(),
		"version", resp.GetVersionInfo(), "nonce", resp.GetNonce(), "resources", len(resp.GetResources()))
}

func (c *callbacks) OnDeltaStreamOpen(ctx context.Context, id int64, typeURL string) error {
	if err := c.admit(ctx, id); err != nil {
		return err
	}
	c.streams.WithLabelValues("delta").Inc()
	c.log.Debug("xDS delta stream opened", "stream", id, "type", typeURL)
	return nil
}

func (c *callbacks) OnDeltaStreamClosed(id int64, node *core.Node) {
	c.streams.WithLabelValues("delta").Dec()
	c.mu.Lock()
	delete(c.peers, id)
	c.mu.Unlock()
	c.log.Debug("xDS delta stream closed", "stream", id, "node", node.GetId())
}

func (c *callbacks) OnStreamDeltaRequest(id int64, req *discovery.DeltaDiscoveryRequest) error {
	if err := c.authorize(id, req.GetNode(), req.GetTypeUrl(), req.GetResourceNamesSubscribe()); err != nil {
		return err
	}
	if req.GetErrorDetail() == nil {
		c.log.Debug("xDS delta request", "stream", id, "node", req.GetNode().GetId(), "type", req.GetTypeUrl(),
			"nonce", req.GetResponseNonce(), "subscribe", req.GetResourceNamesSubscribe(), "unsubscribe", req.GetResourceNamesUnsubscribe())
		return nil
	}
	c.nacks.WithLabelValues(shortType(req.GetTypeUrl())).Inc()
	c.log.Warn("proxy rejected an xDS delta response (NACK); it keeps its previous config",
		"stream", id, "node", req.GetNode().GetId(), "type", req.GetTypeUrl(), "nonce", req.GetResponseNonce(),
		"error", req.GetErrorDetail().GetMessage())
	return nil
}

func (c *callbacks) OnStreamDeltaResponse(id int64, req *discovery.DeltaDiscoveryRequest, resp *discovery.DeltaDiscoveryResponse) {
	c.responses.WithLabelValues(shortType(resp.GetTypeUrl())).Inc()
	c.log.Debug("xDS delta response", "stream", id, "node", req.GetNode().GetId(), "type", resp.GetTypeUrl(),
		"nonce", resp.GetNonce(), "resources", len(resp.GetResources()), "removed", resp.GetRemovedResources())
}

func (c *callbacks) OnFetchRequest(ctx context.Context, req *discovery.DiscoveryRequest) error {
	p, err := c.remoteOf(ctx)
	if err != nil {
		return err
	}
	if p != nil {
		if err := checkRemote(p, req.GetNode(), req.GetTypeUrl(), req.GetResourceNames()); err != nil {
			return err
		}
	}
	c.log.Debug("xDS fetch", "node", req.GetNode().GetId(), "type", req.GetTypeUrl(), "resources", req.GetResourceNames())
	return nil
}

func (c *callbacks) OnFetchResponse(_ *discovery.DiscoveryRequest, resp *discovery.DiscoveryResponse) {
	c.responses.WithLabelValues(shortType(resp.GetTypeUrl())).Inc()
}
