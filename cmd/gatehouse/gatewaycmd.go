package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/gateway"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/sds"
)

type gatewayFlags struct {
	workloadFlags
	config     string
	sdsAddr    string
	portMap    string
	bind       string
	statusPort int
	statsPort  int
	adminPort  int
	logLevel   string
}

func newGatewayCmd() *cobra.Command {
	var f gatewayFlags
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
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "config directory (required)")
	fl.StringVar(&f.sdsAddr, "sds", "", "SDS server: host:port or unix:///path (required)")
	fl.StringVar(&f.portMap, "port-map", "", "map Gateway server ports to listen ports, e.g. 80=8080,443=8443")
	fl.StringVar(&f.bind, "bind", "", "address the gateway listeners bind (default all)")
	fl.IntVar(&f.statusPort, "status-port", 15021, "port for /healthz/ready (all addresses)")
	fl.IntVar(&f.statsPort, "stats-port", 15090, "port for /stats/prometheus (all addresses)")
	fl.IntVar(&f.adminPort, "admin-port", 15000, "loopback port for /debug/config and /debug/certs")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	_ = cmd.MarkFlagRequired("config")
	_ = cmd.MarkFlagRequired("sds")
	f.workloadFlags.register(cmd)
	return cmd
}

func runGateway(ctx context.Context, f gatewayFlags) error {
	log, err := commandLogger(f.logLevel)
	if err != nil {
		return err
	}
	workload, err := f.workload()
	if err != nil {
		return err
	}
	portMap, err := parsePortMap(f.portMap)
	if err != nil {
		return fmt.Errorf("--port-map: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// The local Store holds only what the SDS server sends: one source of truth for credentials.
	store := sds.NewStore(sds.StoreOptions{Logger: log, Registerer: reg})
	client := sds.NewClient(f.sdsAddr, store, sds.ClientOptions{Logger: log, Namespace: workload.Namespace})
	watcher := policy.NewWatcher(f.config, policy.WatchOptions{
		Load:       policy.LoadOptions{Workload: workload, MeshNamespace: f.meshNamespace},
		Logger:     log,
		Registerer: reg,
	})
	gw := gateway.New(gateway.Options{
		Logger:      log,
		Registerer:  reg,
		BindAddress: f.bind,
		Compile:     gateway.CompileOptions{Namespace: workload.Namespace, Labels: workload.Labels, PortMap: portMap},
		Credentials: store,
	})

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// Ready once the listeners are up and the wanted credentials have arrived (or been waited
	// for as long as Envoy would), so a load balancer does not send handshakes that must fail.
	var draining atomic.Bool
	ready := func() bool { return !draining.Load() && gw.Ready() && client.Synced() }
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
	}

	watchDone := make(chan error, 1)
	go func() { watchDone <- watcher.Run(ctx) }()
	clientDone := make(chan error, 1)
	go func() { clientDone <- client.Run(ctx) }()
	go func() {
		for snap := range watcher.Subscribe(ctx) {
			client.Want(sds.WantedResources(snap, workload))
			if err := gw.Apply(snap); err != nil {
				log.Error("gateway kept its previous config", "version", snap.Version, "error", err)
			}
		}
	}()
	log.Info("gatehouse gateway started", "version", version, "config", f.config, "sds", f.sdsAddr,
		"status", f.statusPort, "stats", f.statsPort, "admin", f.adminPort)

	select {
	case <-ctx.Done():
	case err = <-watchDone:
	case err = <-clientDone:
	}
	if err != nil {
		return err
	}

	// Drain as `gatehouse run` does: fail readiness, then let in-flight requests finish.
	draining.Store(true)
	drain := policy.DefaultSettings().DrainTimeout.Std()
	if snap := watcher.Current(); snap != nil {
		drain = snap.Settings.DrainTimeout.Std()
	}
	log.Info("draining", "timeout", drain)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	err = gw.Shutdown(shutdownCtx)
	for _, s := range servers {
		_ = s.Close()
	}
	log.Info("stopped")
	return err
}
