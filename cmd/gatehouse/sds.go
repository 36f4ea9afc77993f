package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/sds"
)

type sdsFlags struct {
	workloadFlags
	config     string
	listen     string
	statusPort int
	statsPort  int
	adminPort  int
	logLevel   string
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
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "config directory (required)")
	fl.StringVar(&f.listen, "listen", "127.0.0.1:15010", "xDS address: a loopback host:port or unix:///path")
	fl.IntVar(&f.statusPort, "status-port", 15021, "port for /healthz/ready (all addresses)")
	fl.IntVar(&f.statsPort, "stats-port", 15090, "port for /stats/prometheus (all addresses)")
	fl.IntVar(&f.adminPort, "admin-port", 15000, "loopback port for /debug/config and /debug/certs")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	_ = cmd.MarkFlagRequired("config")
	f.workloadFlags.register(cmd)
	return cmd
}

func runSDS(ctx context.Context, f sdsFlags) error {
	log, err := commandLogger(f.logLevel)
	if err != nil {
		return err
	}
	workload, err := f.workload()
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	store := sds.NewStore(sds.StoreOptions{Logger: log, Registerer: reg})
	watcher := policy.NewWatcher(f.config, policy.WatchOptions{
		Load:        policy.LoadOptions{Workload: workload, MeshNamespace: f.meshNamespace},
		Logger:      log,
		Credentials: store,
		Registerer:  reg,
	})
	files := sds.NewFileSource(store, sds.FileSourceOptions{Logger: log})
	xds := sds.NewServer(store, sds.ServerOptions{Logger: log, Registerer: reg, Namespace: workload.Namespace})

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	stopXDS, err := serveXDS(ctx, xds, log, f.listen)
	if err != nil {
		return err
	}
	defer stopXDS()

	var draining atomic.Bool
	ready := func() bool { return !draining.Load() && watcher.Current() != nil }
	servers := []*http.Server{
		newServer(":"+strconv.Itoa(f.statusPort), readinessMux(ready)),
		newServer(":"+strconv.Itoa(f.statsPort), statsMux(reg)),
		newServer(net.JoinHostPort("127.0.0.1", strconv.Itoa(f.adminPort)), adminMux(watcher, store)),
	}
	for _, s := range servers {
		ln, err := net.Listen("tcp", s.Addr)
		if err != nil {
			return fmt.Errorf("listen %s: %w", s.Addr, err)
		}
		go func() { _ = s.Serve(ln) }()
		defer s.Close()
	}

	watchDone := make(chan error, 1)
	go func() { watchDone <- watcher.Run(ctx) }()
	filesDone := make(chan error, 1)
	go func() { filesDone <- files.Run(ctx) }()
	go func() {
		for snap := range watcher.Subscribe(ctx) {
			files.Want(sds.WantedFiles(snap, workload))
		}
	}()
	log.Info("gatehouse sds started", "version", version, "config", f.config, "listen", f.listen,
		"status", f.statusPort, "stats", f.statsPort, "admin", f.adminPort)

	select {
	case <-ctx.Done():
	case err = <-watchDone:
	case err = <-filesDone:
	}
	draining.Store(true)
	log.Info("stopped")
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

// commandLogger is the text logger on stderr every command uses.
func commandLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}
