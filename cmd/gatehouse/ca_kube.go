package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/gatehouse-dev/gatehouse/ca"
	"github.com/gatehouse-dev/gatehouse/ca/kubeca"
)

// rootWait bounds how long a CA replica waits for the leader to store the root Secret: two
// Lease durations, time for a dead leader to be replaced and the new one to store it.
const rootWait = 30 * time.Second

// kubeCA is the CA's Kubernetes side, when the config comes from an API server: the Lease its
// replicas elect a leader with, the root kept in a Secret, the root ConfigMap in every
// namespace, and service-account tokens as credentials.
type kubeCA struct {
	ctx    context.Context
	stop   context.CancelFunc
	client kubernetes.Interface
	leader *kubeca.Leader
	log    *slog.Logger
}

// startKubeCA campaigns for the CA's Lease in the workload's namespace and puts the cluster's
// root where ca.New reads it; it returns the plug-in dir ca.New is to use. In file mode it
// returns nil and plugin unchanged. A --ca-plugin given explicitly wins over the Secrets.
func (p *process) startKubeCA(ctx context.Context, data, plugin, trustDomain string) (*kubeCA, string, error) {
	if !p.flags.kubeMode() {
		return nil, plugin, nil
	}
	cfg, err := p.flags.restConfig()
	if err != nil {
		return nil, "", err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, "", err
	}
	ns := p.workload.Namespace
	ctx, cancel := context.WithCancel(ctx)
	k := &kubeCA{ctx: ctx, stop: cancel, client: client, leader: kubeca.NewLeader(client, ns, p.log), log: p.log}
	go func() {
		if err := k.leader.Run(ctx); err != nil {
			p.log.Error("ca: leader election not running; this replica never leads", "error", err)
		}
	}()
	if plugin != "" {
		return k, plugin, nil
	}
	// Bounded: in `gatehouse run` the config loop waits here, and a leader that cannot store
	// the root must not hold the gateway's config back; the CA is retried with the next change.
	prepCtx, prepDone := context.WithTimeout(ctx, rootWait)
	defer prepDone()
	dir, err := kubeca.PrepareRoot(prepCtx, kubeca.RootOptions{Client: client, Namespace: ns, DataDir: data,
		TrustDomain: trustDomain, Leading: k.leader.Leading, Logger: p.log})
	if err != nil {
		cancel()
		return nil, "", fmt.Errorf("root from the Secrets of namespace %s: %w", ns, err)
	}
	if dir != "" {
		go kubeca.FollowPlugin(ctx, client, ns, data, p.log)
	}
	return k, dir, nil
}

// serve publishes a's root to every namespace while this replica leads, and returns what
// redeems bearer tokens: bootstrap tokens, then service-account tokens through TokenReview.
func (k *kubeCA) serve(a *ca.Authority, tokens *ca.Tokens) ca.TokenRedeemer {
	pub := kubeca.NewRootPublisher(k.client, a, k.log)
	go k.leader.Do(k.ctx, func(term context.Context) {
		if err := pub.Run(term); err != nil {
			k.log.Error("ca: root ConfigMaps not published this term", "error", err)
		}
	})
	return kubeca.Chain(tokens, kubeca.NewTokenReviewer(k.client, a.TrustDomain()))
}
