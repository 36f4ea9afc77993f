package main

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/authz/extauthz"
	"github.com/gatehouse-dev/gatehouse/sds"
)

type gatewayCmdFlags struct {
	processFlags
	gatewayFlags
	sdsAddr   string
	authzAddr string
}

func newGatewayCmd() *cobra.Command {
	var f gatewayCmdFlags
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Run only the gateway, with its credentials from a remote SDS server",
		Long: "Serves the Gateways under --config that select this workload, as `gatehouse run` does, but\n" +
			"takes every certificate, key and CA from the SDS server at --sds (for example\n" +
			"`gatehouse sds`, or an istio-agent socket), subscribing to the names those Gateways use:\n" +
			"kubernetes://<credentialName>, kubernetes://<credentialName>-cacert, file-cert: and\n" +
			"file-root:. Secrets in --config are not used. Rotations pushed by the server reach new\n" +
			"handshakes at once; while the server is unreachable the last credentials keep serving.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runGateway(cmd.Context(), f) },
	}
	f.processFlags.register(cmd)
	f.gatewayFlags.register(cmd)
	cmd.Flags().StringVar(&f.sdsAddr, "sds", "", "SDS server: host:port or unix:///path (required)")
	_ = cmd.MarkFlagRequired("sds")
	cmd.Flags().StringVar(&f.authzAddr, "authz", "", "remote ext_authz gRPC server (host:port) deciding every request; default: the config's policies, in-process")
	return cmd
}

func runGateway(ctx context.Context, f gatewayCmdFlags) error {
	// The local Store holds only what the SDS server sends: one source of truth for credentials.
	p, err := newProcess(f.processFlags, false)
	if err != nil {
		return err
	}
	// Like Istio's gateway, this one always enforces RequestAuthentication/AuthorizationPolicy:
	// with the config's policies in-process, or by asking --authz (a `gatehouse authz`).
	var (
		checker authz.Checker
		local   *inProcessAuthz
	)
	if f.authzAddr != "" {
		client, err := extauthz.NewClient(f.authzAddr, extauthz.ClientOptions{Log: p.log})
		if err != nil {
			return fmt.Errorf("--authz: %w", err)
		}
		defer client.Close()
		checker = client
	} else {
		local = p.newAuthz()
		defer local.keys.Close()
		checker = local.engine
	}
	gw, err := p.newGateway(f.gatewayFlags, checker)
	if err != nil {
		return err
	}
	client := sds.NewClient(f.sdsAddr, p.store, sds.ClientOptions{Logger: p.log, Namespace: p.workload.Namespace})
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// Ready once the listeners are up and the wanted credentials have arrived (or been waited
	// for as long as Envoy would), so a load balancer does not send handshakes that must fail.
	if err := p.serveStatus(func() bool { return gw.Ready() && client.Synced() }); err != nil {
		return err
	}
	defer p.closeStatus()
	go func() {
		for snap := range p.watcher.Subscribe(ctx) {
			client.Want(sds.WantedResources(snap, p.workload))
			if local != nil {
				local.apply(snap)
			}
			if err := gw.Apply(snap); err != nil {
				p.log.Error("gateway kept its previous config", "version", snap.Version, "error", err)
			}
		}
	}()
	p.log.Info("gatehouse gateway started", "version", version, "config", f.config, "sds", f.sdsAddr,
		"status", f.statusPort, "stats", f.statsPort, "admin", f.adminPort)
	if err := runAll(ctx, p.watcher.Run, client.Run); err != nil {
		return err
	}
	err = p.drain(gw)
	p.log.Info("stopped")
	return err
}
