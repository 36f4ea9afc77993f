package main

import (
	"context"
	"log/slog"
	"net"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/gatehouse-dev/gatehouse/sds"
)

type sdsFlags struct {
	processFlags
	listen string
}

func newSDSCmd() *cobra.Command {
	var f sdsFlags
	cmd := &cobra.Command{
		Use:   "sds",
		Short: "Serve the config directory's credentials to proxies over SDS, without a gateway",
		Long: "Loads the Secrets under --config, and the certificate files that Gateways selecting --labels\n" +
			"name, into the credential store, and serves them over the Secret Discovery Service\n" +
			"(StreamSecrets, DeltaSecrets, FetchSecrets and ADS) by Istio's resource names:\n" +
			"kubernetes://<name>, kubernetes://<name>-cacert, file-cert:<cert>~<key>, file-root:<ca>.\n" +
			"A proxy's kubernetes:// names resolve in its node's NAMESPACE, else in --namespace.\n" +
			"Changes are pushed to subscribed proxies as they happen.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSDS(cmd.Context(), f) },
	}
	f.processFlags.register(cmd)
	cmd.Flags().StringVar(&f.listen, "listen", "127.0.0.1:15010", "xDS address: a loopback host:port or unix:///path")
	return cmd
}

func runSDS(ctx context.Context, f sdsFlags) error {
	p, err := newProcess(f.processFlags, true)
	if err != nil {
		return err
	}
	files := sds.NewFileSource(p.store, sds.FileSourceOptions{Logger: p.log})
	xds := sds.NewServer(p.store, sds.ServerOptions{Logger: p.log, Registerer: p.reg, Namespace: p.workload.Namespace})
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	stopXDS, err := serveXDS(ctx, xds, p.log, f.listen)
	if err != nil {
		return err
	}
	defer stopXDS()
	if err := p.serveStatus(func() bool { return p.watcher.Current() != nil }); err != nil {
		return err
	}
	defer p.closeStatus()
	go func() {
		for snap := range p.watcher.Subscribe(ctx) {
			files.Want(sds.WantedFiles(snap, p.workload))
		}
	}()
	p.log.Info("gatehouse sds started", "version", version, "config", f.config, "listen", f.listen,
		"status", f.statusPort, "stats", f.statsPort, "admin", f.adminPort)
	err = runAll(ctx, p.watcher.Run, files.Run)
	p.draining.Store(true)
	p.log.Info("stopped")
	return err
}

// serveXDS serves the xDS server with gRPC reflection on every non-empty address (a loopback
// host:port or unix:///path: say 127.0.0.1:15010 and an agent socket), and pushes Store changes
// until ctx is done or the returned stop is called; stop ends the proxies' streams and waits
// for the server to go away.
func serveXDS(ctx context.Context, xds *sds.Server, log *slog.Logger, addrs ...string) (stop func(), err error) {
	var lns []net.Listener
	for _, addr := range addrs {
		if addr == "" {
			continue
		}
		ln, err := sds.Listen(addr)
		if err != nil {
			for _, l := range lns {
				_ = l.Close()
			}
			return nil, err
		}
		lns = append(lns, ln)
	}
	g := newXDSGRPCServer()
	xds.Register(g)
	reflection.Register(g)
	ctx, cancel := context.WithCancel(ctx)
	pushing := make(chan struct{})
	go func() { defer close(pushing); _ = xds.Run(ctx) }()
	for _, ln := range lns {
		go func() {
			if err := g.Serve(ln); err != nil {
				log.Error("xDS server stopped", "address", ln.Addr().String(), "error", err)
			}
		}()
		log.Info("xDS server listening", "address", ln.Addr().String())
	}
	return func() {
		cancel()
		<-pushing // Run's return ends the open streams, so GracefulStop does not wait on them
		g.GracefulStop()
	}, nil
}

// newXDSGRPCServer allows the keepalive pings Envoy and istio-agent send on their long-lived
// xDS streams, which gRPC's default policy would answer with GOAWAY.
func newXDSGRPCServer() *grpc.Server {
	return grpc.NewServer(
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
	)
}
