package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/gateway"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/sds"
)

type runFlags struct {
	workloadFlags
	config     string
	data       string
	portMap    string
	bind       string
	statusPort int
	statsPort  int
	adminPort  int
	logLevel   string
	xdsListen  string
	sdsSocket  string
}

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Start every component in one process on a config directory",
		Long: "Reads every *.yaml/*.yml under --config (Istio resources, Secrets, the istio MeshConfig\n" +
			"ConfigMap and Gatehouse kinds), watches it, and serves the Gateways that select this\n" +
			"workload. Invalid changes are rejected and the last good config keeps serving.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "config directory (required)")
	fl.StringVar(&f.data, "data", "./.gatehouse", "directory for the CA's keys and ACME state")
	fl.StringVar(&f.portMap, "port-map", "", "map Gateway server ports to listen ports, e.g. 80=8080,443=8443")
	fl.StringVar(&f.bind, "bind", "", "address the gateway listeners bind (default all)")
	fl.IntVar(&f.statusPort, "status-port", 15021, "port for /healthz/ready (all addresses)")
	fl.IntVar(&f.statsPort, "stats-port", 15090, "port for /stats/prometheus (all addresses)")
	fl.IntVar(&f.adminPort, "admin-port", 15000, "loopback port for /debug/config")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fl.StringVar(&f.xdsListen, "xds-listen", "127.0.0.1:15010", "xDS/SDS for co-located proxies: a loopback host:port or unix:///path (plaintext)")
	fl.StringVar(&f.sdsSocket, "sds-socket", "", "also serve xDS/SDS on this Unix socket, e.g. unix:///var/run/gatehouse/sds.sock")
	_ = cmd.MarkFlagRequired("config")
	f.workloadFlags.register(cmd)
	return cmd
}

func run(ctx context.Context, f runFlags) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	workload, err := f.workload()
	if err != nil {
		return err
	}
	portMap, err := parsePortMap(f.portMap)
	if err != nil {
		return fmt.Errorf("--port-map: %w", err)
	}
	if err := os.MkdirAll(f.data, 0o700); err != nil {
		return fmt.Errorf("--data: %w", err)
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
	gw := gateway.New(gateway.Options{
		Logger:      log,
		Registerer:  reg,
		BindAddress: f.bind,
		Compile:     gateway.CompileOptions{Namespace: workload.Namespace, Labels: workload.Labels, PortMap: portMap},
	})

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// The one xDS server: SDS for any Envoy (and `gatehouse gateway --sds`) reads the same Store
	// the in-process gateway does.
	xds := sds.NewServer(store, sds.ServerOptions{Logger: log, Registerer: reg, Namespace: workload.Namespace})
	stopXDS, err := serveXDS(ctx, xds, log, f.xdsListen, f.sdsSocket)
	if err != nil {
		return fmt.Errorf("xDS: %w", err)
	}
	defer stopXDS()

	var draining atomic.Bool
	ready := func() bool { return !draining.Load() && gw.Ready() }
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
	filesDone := make(chan error, 1)
	go func() { filesDone <- files.Run(ctx) }()
	go func() {
		for snap := range watcher.Subscribe(ctx) {
			// Files named by Gateways are read before the gateway compiles, so their
			// credentials are in the Store when the new servers start handshaking.
			files.Want(sds.WantedFiles(snap, workload))
			if err := gw.Apply(snap); err != nil {
				log.Error("gateway kept its previous config", "version", snap.Version, "error", err)
			}
		}
	}()
	log.Info("gatehouse started", "version", version, "config", f.config, "status", f.statusPort, "stats", f.statsPort, "admin", f.adminPort)

	select {
	case <-ctx.Done():
	case err := <-watchDone:
		if err != nil {
			return err
		}
	case err := <-filesDone:
		if err != nil {
			return err
		}
	}

	// Drain as Envoy does on SIGTERM: fail readiness first so load balancers stop sending, then
	// let in-flight requests finish, bounded by Settings.drainTimeout.
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

func newServer(addr string, h http.Handler) *http.Server {
	return &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
}

// readinessMux serves /healthz/ready as Istio's status port does: 200 once config is applied and
// listeners are up, 503 before that and while draining.
func readinessMux(ready func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

func statsMux(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/stats/prometheus", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return mux
}

// adminMux is loopback-only: it shows the effective config and the credentials in force (never
// Secret data or keys) and Go's profiles under /debug/pprof/.
func adminMux(w *policy.Watcher, store *sds.Store) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/debug/config", jsonHandler(func() ([]byte, error) { return policy.DebugJSON(w.Current()) }))
	mux.Handle("/debug/certs", jsonHandler(func() ([]byte, error) { return sds.DebugCertsJSON(store) }))
	return mux
}

// jsonHandler serves what render returns, rendered per request.
func jsonHandler(render func() ([]byte, error)) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		b, err := render()
		if err != nil {
			http.Error(rw, "cannot render", http.StatusInternalServerError)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		_, _ = rw.Write(b)
	})
}
