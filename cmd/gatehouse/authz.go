package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/authz/extauthz"
	"github.com/gatehouse-dev/gatehouse/authz/jwt"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// authzListenFlags are the ext_authz servers' addresses: 9191 is opa-envoy-plugin's (and
// Gatehouse's documented) gRPC port, and the HTTP service sits on the next one.
type authzListenFlags struct {
	listen     string
	httpListen string
	pathPrefix string
}

func (f *authzListenFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "authz-listen", "127.0.0.1:9191", "ext_authz gRPC (envoy.service.auth.v3.Authorization) address; empty disables it")
	fl.StringVar(&f.httpListen, "authz-http-listen", "127.0.0.1:9192", "ext_authz HTTP service address; empty disables it")
	fl.StringVar(&f.pathPrefix, "authz-path-prefix", "", "the http_service path_prefix Envoy puts before the checked path")
}

type authzCmdFlags struct {
	processFlags
	authzListenFlags
	defaultNamespace string
}

func newAuthzCmd() *cobra.Command {
	var f authzCmdFlags
	cmd := &cobra.Command{
		Use:   "authz",
		Short: "Run only the ext_authz service (gRPC and HTTP) on the config's policies",
		Long: "Enforces the RequestAuthentication and AuthorizationPolicy resources under --config as\n" +
			"Envoy's external authorization service: gRPC envoy.service.auth.v3.Authorization on\n" +
			"--authz-listen and the HTTP service on --authz-http-listen. The workload whose policies\n" +
			"apply comes from the check's context_extensions (namespace, labels, services), else the\n" +
			"namespace of the destination principal, else --default-namespace.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAuthz(cmd.Context(), f) },
	}
	f.processFlags.register(cmd)
	f.authzListenFlags.register(cmd)
	cmd.Flags().StringVar(&f.defaultNamespace, "default-namespace", "", "namespace of the workload checked when a request names none (default: such requests are denied)")
	return cmd
}

func runAuthz(ctx context.Context, f authzCmdFlags) error {
	p, err := newProcess(f.processFlags, false)
	if err != nil {
		return err
	}
	var def *authz.Workload
	if f.defaultNamespace != "" {
		def = authz.NewWorkload(f.defaultNamespace, nil)
	}
	a := p.newAuthz()
	defer a.keys.Close()
	srv := extauthz.NewServer(a.engine, extauthz.Options{Log: p.log, DefaultWorkload: def, PathPrefix: f.pathPrefix, Custom: a.providers.checkResponse})
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	stopAuthz, err := serveAuthz(srv, p.log, f.authzListenFlags)
	if err != nil {
		return err
	}
	defer stopAuthz()
	if err := p.serveStatus(srv.Ready); err != nil {
		return err
	}
	defer p.closeStatus()
	go func() {
		for snap := range p.watcher.Subscribe(ctx) {
			if a.apply(snap) {
				srv.Apply(snap)
			}
		}
	}()
	p.log.Info("gatehouse authz started", "version", version, "config", f.config, "grpc", f.listen, "http", f.httpListen,
		"status", f.statusPort, "stats", f.statsPort, "admin", f.adminPort)
	err = runAll(ctx, p.watcher.Run)
	p.draining.Store(true)
	p.log.Info("stopped")
	return err
}

// inProcessAuthz is a process's authorization engine and the JWKS cache it shares across
// reloads.
type inProcessAuthz struct {
	log       *slog.Logger
	keys      *jwt.Keys
	engine    *authz.Engine
	providers *customProviders
	compiles  *prometheus.CounterVec
}

func (p *process) newAuthz() *inProcessAuthz {
	providers := &customProviders{log: p.log}
	a := &inProcessAuthz{
		log:       p.log,
		keys:      jwt.NewKeys(jwt.KeysOptions{Log: p.log, Registerer: p.reg}),
		engine:    authz.NewEngine(authz.Options{Log: p.log, CustomProviderReady: providers.ready}),
		providers: providers,
		compiles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_authz_compiles_total",
			Help: "Authorization policy compiles by result: ok, or failed (the last good policies keep serving).",
		}, []string{"result"}),
	}
	p.reg.MustRegister(a.compiles)
	p.recordDenials(a.engine)
	p.providers = providers.current
	return a
}

// apply compiles snap's policies and installs them; on failure the last good policies keep
// serving, and it returns false.
func (a *inProcessAuthz) apply(snap *policy.Snapshot) bool {
	a.providers.apply(snap)
	c, err := authz.Compile(snap, a.keys)
	if err != nil {
		a.compiles.WithLabelValues("failed").Inc()
		a.log.Error("authz kept its previous policies", "version", snap.Version, "error", err)
		return false
	}
	a.engine.Apply(c)
	a.compiles.WithLabelValues("ok").Inc()
	return true
}

// serveAuthz serves srv over gRPC and HTTP on the addresses set; stop ends both.
func serveAuthz(srv *extauthz.Server, log *slog.Logger, f authzListenFlags) (stop func(), err error) {
	var grpcLn, httpLn net.Listener
	if f.listen != "" {
		if grpcLn, err = net.Listen("tcp", f.listen); err != nil {
			return nil, fmt.Errorf("--authz-listen: %w", err)
		}
	}
	if f.httpListen != "" {
		if httpLn, err = net.Listen("tcp", f.httpListen); err != nil {
			if grpcLn != nil {
				_ = grpcLn.Close()
			}
			return nil, fmt.Errorf("--authz-http-listen: %w", err)
		}
	}
	g := grpc.NewServer()
	srv.RegisterGRPC(g)
	hs := newServer(f.httpListen, srv)
	if grpcLn != nil {
		log.Info("ext_authz gRPC server listening", "address", grpcLn.Addr().String())
		go func() {
			if err := g.Serve(grpcLn); err != nil {
				log.Error("ext_authz gRPC server stopped", "error", err)
			}
		}()
	}
	if httpLn != nil {
		log.Info("ext_authz HTTP server listening", "address", httpLn.Addr().String())
		go func() {
			if err := hs.Serve(httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("ext_authz HTTP server stopped", "error", err)
			}
		}()
	}
	return func() {
		srv.Shutdown()
		_ = hs.Close()
		g.GracefulStop()
	}, nil
}
