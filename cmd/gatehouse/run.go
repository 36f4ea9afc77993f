package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/authz/extauthz"
	"github.com/gatehouse-dev/gatehouse/ca/meshxds"
	"github.com/gatehouse-dev/gatehouse/sds"
	"github.com/gatehouse-dev/gatehouse/sds/acmecert"
)

type runFlags struct {
	processFlags
	gatewayFlags
	authzListenFlags
	caServeFlags
	identityFlags
	data      string
	xdsListen string
	sdsSocket string
}

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Start every component in one process on a config directory",
		Long: "Reads every *.yaml/*.yml under --config (Istio resources, Secrets, the istio MeshConfig\n" +
			"ConfigMap and Gatehouse kinds), watches it, and serves the Gateways that select this\n" +
			"workload. Invalid changes are rejected and the last good config keeps serving. The same\n" +
			"credentials are served to proxies over SDS on --xds-listen.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), f) },
	}
	f.processFlags.register(cmd)
	f.gatewayFlags.register(cmd)
	f.authzListenFlags.register(cmd)
	f.caServeFlags.register(cmd, "127.0.0.1:15012")
	f.identityFlags.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.data, "data", "./.gatehouse", "directory for the CA's keys and ACME state")
	fl.StringVar(&f.xdsListen, "xds-listen", "127.0.0.1:15010", "xDS/SDS for co-located proxies: a loopback host:port or unix:///path (plaintext)")
	fl.StringVar(&f.sdsSocket, "sds-socket", "", "also serve xDS/SDS on this Unix socket, e.g. unix:///var/run/gatehouse/sds.sock")
	return cmd
}

func run(ctx context.Context, f runFlags) error {
	if err := os.MkdirAll(f.data, 0o700); err != nil {
		return fmt.Errorf("--data: %w", err)
	}
	// Istio's rule for credentialName: the gateway's service account may read the Secrets.
	f.gatewayServiceAccount = f.identityFlags.serviceAccount
	p, err := newProcess(f.processFlags, true)
	if err != nil {
		return err
	}
	// Certificates of ACMEIssuers, kept under the data directory and answered for by the gateway.
	p.acme = acmecert.New(acmecert.Options{Store: p.store, Cache: acmecert.NewDirCache(filepath.Join(f.data, "acme")),
		Logger: p.log, Registerer: p.reg})
	defer p.acme.Close()
	// One engine decides for the gateway in-process and for Envoys over ext_authz.
	az := p.newAuthz()
	defer az.keys.Close()
	gw, err := p.newGateway(f.gatewayFlags, az.engine)
	if err != nil {
		return err
	}
	// Envoys asking over ext_authz must name their workload (context_extensions or destination
	// principal): the gateway's own policies are not a safe default for another proxy.
	authzSrv := extauthz.NewServer(az.engine, extauthz.Options{Log: p.log, PathPrefix: f.pathPrefix, Custom: az.providers.checkResponse})
	files := sds.NewFileSource(p.store, sds.FileSourceOptions{Logger: p.log})
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// The one xDS server: SDS for any Envoy (and `gatehouse gateway --sds`) reads the same Store
	// the in-process gateway does.
	var workloadCA atomic.Pointer[caComponent]
	// Sidecars' listeners and clusters, built from PeerAuthentication for each proxy that asks.
	mesh := meshxds.NewCache(p.log)
	xds := sds.NewServer(p.store, sds.ServerOptions{Logger: p.log, Registerer: p.reg, Namespace: p.workload.Namespace,
		Peer: meshPeer(workloadCA.Load), Caches: mesh.Caches()})
	stopXDS, err := serveXDS(ctx, xds, p.log, f.xdsListen, f.sdsSocket)
	if err != nil {
		return fmt.Errorf("xDS: %w", err)
	}
	defer stopXDS()
	stopAuthz, err := serveAuthz(authzSrv, p.log, f.authzListenFlags)
	if err != nil {
		return err
	}
	defer stopAuthz()
	if err := p.serveStatus(gw.Ready); err != nil {
		return err
	}
	defer p.closeStatus()

	defer func() {
		if c := workloadCA.Load(); c != nil {
			c.stop()
		}
	}()
	identity := false // the gateway's mesh certificate manager runs
	go func() {
		for snap := range p.watcher.Subscribe(ctx) {
			workloadCA.Store(p.applyCA(ctx, workloadCA.Load(), snap, f.data, f.caServeFlags, xds))
			mesh.Apply(snap)
			if !identity {
				var err error
				if identity, err = p.startIdentity(ctx, f.identityFlags, workloadCA.Load(), snap); err != nil {
					p.log.Error("mesh identity not started; ISTIO_MUTUAL fails until it is", "error", err)
				}
			}
			// Files named by Gateways are read before the gateway compiles, so their
			// credentials are in the Store when the new servers start handshaking.
			files.Want(sds.WantedFiles(snap, p.workload))
			p.acme.Apply(acmeIssuers(snap, p.store, p.log))
			// Policies are installed before the routes of the same snapshot serve.
			if az.apply(snap) {
				authzSrv.Apply(snap)
			}
			if err := gw.Apply(snap); err != nil {
				p.log.Error("gateway kept its previous config", "version", snap.Version, "error", err)
			}
		}
	}()
	p.log.Info("gatehouse started", "version", version, "config", f.config, "status", f.statusPort, "stats", f.statsPort, "admin", f.adminPort)
	if err := runAll(ctx, p.watcher.Run, files.Run); err != nil {
		return err
	}
	err = p.drain(gw)
	p.log.Info("stopped")
	return err
}
