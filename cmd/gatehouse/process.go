package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/authz/provider"
	"github.com/gatehouse-dev/gatehouse/gateway"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/sds"
	"github.com/gatehouse-dev/gatehouse/sds/acmecert"
)

// processFlags are the flags of every long-running command: the config, the workload it is, and
// the status, stats and admin ports (istiod's and Envoy's, so probes and scrapes keep working).
type processFlags struct {
	workloadFlags
	sourceFlags
	statusPort int
	statsPort  int
	adminPort  int
	logLevel   string
}

func (f *processFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "config directory (or --kubernetes / --kubeconfig)")
	fl.BoolVar(&f.kubernetes, "kubernetes", false, "read the config from the Kubernetes API server, as the pod's service account")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "read the config from the Kubernetes API server this kubeconfig names")
	fl.IntVar(&f.statusPort, "status-port", 15021, "port for /healthz/ready (all addresses)")
	fl.IntVar(&f.statsPort, "stats-port", 15090, "port for /stats/prometheus (all addresses)")
	fl.IntVar(&f.adminPort, "admin-port", 15000, "loopback port for /debug/config, /debug/certs and /debug/pprof")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	f.workloadFlags.register(cmd)
}

// gatewayFlags are what a command serving Gateways adds.
type gatewayFlags struct {
	portMap     string
	bind        string
	serviceName string
}

func (f *gatewayFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.portMap, "port-map", "", "map Gateway server ports to listen ports, e.g. 80=8080,443=8443")
	cmd.Flags().StringVar(&f.bind, "bind", "", "address the gateway listeners bind (default all)")
	// istio-ingressgateway is the Service of Istio's default ingress gateway, so policies whose
	// targetRef names it apply here unchanged.
	cmd.Flags().StringVar(&f.serviceName, "service-name", "istio-ingressgateway", "name of the Service selecting this gateway, matched by AuthorizationPolicy/RequestAuthentication targetRefs (comma-separated for several)")
}

// process is the wiring every long-running command shares: logger, metrics, the credential
// store and the config watcher. Commands add their components to it.
type process struct {
	flags    processFlags
	log      *slog.Logger
	reg      *prometheus.Registry
	workload policy.Workload
	store    *sds.Store
	watcher  configSource
	draining atomic.Bool
	servers  []*http.Server
	// denials is the in-process engine's denial log, served at /debug/authz; nil without one.
	denials atomic.Pointer[authz.DenialLog]
	// providers is the in-process authz's CUSTOM extension providers, nil without one.
	providers func() *provider.Set
	// acme answers the ACME challenges of the certificates it obtains; nil without one.
	acme *acmecert.Manager
}

// debugDenials is how many denials /debug/authz keeps.
const debugDenials = 50

// recordDenials makes e keep its last denials for /debug/authz.
func (p *process) recordDenials(e *authz.Engine) { p.denials.Store(e.RecordDenials(debugDenials)) }

// newProcess sets up the shared parts. configSecrets says whether Secrets in the config
// directory feed the store (not when credentials come from a remote SDS).
func newProcess(f processFlags, configSecrets bool) (*process, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	if err := f.sourceFlags.check(); err != nil {
		return nil, err
	}
	workload, err := f.workload()
	if err != nil {
		return nil, err
	}
	p := &process{flags: f, workload: workload, reg: prometheus.NewRegistry(),
		log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))}
	p.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	p.store = sds.NewStore(sds.StoreOptions{Logger: p.log, Registerer: p.reg})
	var credentials policy.CredentialSink
	if configSecrets {
		credentials = p.store
	}
	p.watcher, err = newSource(f.sourceFlags, policy.LoadOptions{Workload: workload, MeshNamespace: f.meshNamespace}, credentials, p.log, p.reg)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// newGateway builds the gateway reading p's store, deciding every request with checker.
func (p *process) newGateway(f gatewayFlags, checker authz.Checker) (*gateway.Gateway, error) {
	portMap, err := parsePortMap(f.portMap)
	if err != nil {
		return nil, fmt.Errorf("--port-map: %w", err)
	}
	return gateway.New(gateway.Options{
		Logger:      p.log,
		Registerer:  p.reg,
		BindAddress: f.bind,
		Compile:     gateway.CompileOptions{Namespace: p.workload.Namespace, Labels: p.workload.Labels, PortMap: portMap},
		Credentials: p.store,
		Authz:       checker,
		Providers:   p.providers,
		ACME:        p.acmeResponder(),
		AuthzWorkload: authz.NewWorkload(p.workload.Namespace, p.workload.Labels,
			strings.FieldsFunc(f.serviceName, func(r rune) bool { return r == ',' || r == ' ' })...),
	}), nil
}

// acmeResponder is p.acme for the gateway, a nil interface without one.
func (p *process) acmeResponder() gateway.ACMEResponder {
	if p.acme == nil {
		return nil
	}
	return p.acme
}

// serveStatus starts /healthz/ready (ready() and not draining), /stats/prometheus, and the
// loopback admin endpoints.
func (p *process) serveStatus(ready func() bool) error {
	p.servers = []*http.Server{
		newServer(":"+strconv.Itoa(p.flags.statusPort), readinessMux(func() bool { return !p.draining.Load() && ready() })),
		newServer(":"+strconv.Itoa(p.flags.statsPort), statsMux(p.reg)),
		newServer(net.JoinHostPort("127.0.0.1", strconv.Itoa(p.flags.adminPort)), adminMux(p.watcher.Current, p.store, p.denials.Load)),
	}
	for _, s := range p.servers {
		ln, err := net.Listen("tcp", s.Addr)
		if err != nil {
			p.closeStatus()
			return fmt.Errorf("listen %s: %w", s.Addr, err)
		}
		go func() { _ = s.Serve(ln) }()
	}
	return nil
}

func (p *process) closeStatus() {
	for _, s := range p.servers {
		_ = s.Close()
	}
}

// drain stops gw as Envoy does on SIGTERM: fail readiness first so load balancers stop sending,
// then let in-flight requests finish, bounded by Settings.drainTimeout.
func (p *process) drain(gw *gateway.Gateway) error {
	p.draining.Store(true)
	timeout := policy.DefaultSettings().DrainTimeout.Std()
	if snap := p.watcher.Current(); snap != nil {
		timeout = snap.Settings.DrainTimeout.Std()
	}
	p.log.Info("draining", "timeout", timeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return gw.Shutdown(ctx)
}

// runAll runs each function until ctx is done or one of them returns; it returns the first
// error.
func runAll(ctx context.Context, fns ...func(context.Context) error) error {
	done := make(chan error, len(fns))
	for _, fn := range fns {
		go func() { done <- fn(ctx) }()
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-done:
		return err
	}
}

func newServer(addr string, h http.Handler) *http.Server {
	return &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
}

// readinessMux serves /healthz/ready as Istio's status port does: 200 when ready, else 503.
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
// Secret data or keys), the last authorization denials explained (credentials redacted), and Go's
// profiles under /debug/pprof/.
func adminMux(current func() *policy.Snapshot, store *sds.Store, denials func() *authz.DenialLog) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/debug/config", jsonHandler(func() ([]byte, error) { return policy.DebugJSON(current()) }))
	mux.Handle("/debug/certs", jsonHandler(func() ([]byte, error) { return sds.DebugCertsJSON(store) }))
	mux.HandleFunc("/debug/authz", func(rw http.ResponseWriter, r *http.Request) { serveDenials(rw, r, denials()) })
	return mux
}

// serveDenials explains the recorded denials, newest first: JSON, or text with ?format=text.
func serveDenials(rw http.ResponseWriter, r *http.Request, l *authz.DenialLog) {
	exs := []authz.Explanation{}
	if l != nil {
		exs = l.Explain(r.Context())
	}
	if r.URL.Query().Get("format") == "text" {
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if l == nil {
			_, _ = io.WriteString(rw, "no in-process authorization engine\n")
		}
		for i := range exs {
			_, _ = io.WriteString(rw, exs[i].String()+"\n")
		}
		return
	}
	b, err := json.MarshalIndent(struct {
		Denials []authz.Explanation `json:"denials"`
	}{Denials: exs}, "", "  ")
	if err != nil {
		http.Error(rw, "cannot render", http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "application/json")
	_, _ = rw.Write(b)
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
