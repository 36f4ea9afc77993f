package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/reflection"

	"github.com/gatehouse-dev/gatehouse/ca"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/sds"
	"github.com/gatehouse-dev/gatehouse/sds/workload"
)

// caServeFlags are what a command running the workload CA adds.
type caServeFlags struct {
	listen string
	plugin string
}

func (f *caServeFlags) register(cmd *cobra.Command, listen string) {
	cmd.Flags().StringVar(&f.listen, "ca-listen", listen, "address of the CA's IstioCertificateService (gRPC over TLS, istiod's port 15012); empty turns it off")
	cmd.Flags().StringVar(&f.plugin, "ca-plugin", "", "plug-in CA directory: Istio's cacerts layout (ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem) or tls.crt/tls.key/ca.crt; watched")
}

type caFlags struct {
	processFlags
	caServeFlags
	data string
}

func newCACmd() *cobra.Command {
	var f caFlags
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Run only the workload CA: SPIFFE certificates over Istio's CSR API",
		Long: "Serves istio.v1.auth.IstioCertificateService/CreateCertificate over TLS on --ca-listen, as\n" +
			"istiod does on 15012. Callers prove who they are with a workload certificate it issued\n" +
			"(renewal) or with a BootstrapToken declared under --config; the certificate carries that\n" +
			"identity, spiffe://<trustDomain>/ns/<ns>/sa/<sa>, whatever the CSR asks for. The root is\n" +
			"bootstrapped in --data on first start, or comes from --ca-plugin.\n\n" +
			"With --kubernetes/--kubeconfig, as istiod: service-account tokens of audience istio-ca\n" +
			"are accepted (TokenReview); the root comes from Secret cacerts, else istio-ca-secret in\n" +
			"--namespace (created by the leader if missing); and the leader of Lease gatehouse-ca\n" +
			"publishes it to every namespace as ConfigMap istio-ca-root-cert.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runCA(cmd.Context(), f) },
	}
	f.processFlags.register(cmd)
	f.caServeFlags.register(cmd, ":15012")
	cmd.Flags().StringVar(&f.data, "data", "./.gatehouse", "directory for the CA's keys and its bootstrap-token ledger")
	return cmd
}

func runCA(ctx context.Context, f caFlags) error {
	if err := os.MkdirAll(f.data, 0o700); err != nil {
		return fmt.Errorf("--data: %w", err)
	}
	p, err := newProcess(f.processFlags, true)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// The CA starts on the first snapshot: its trust domain is MeshConfig's.
	var running atomic.Pointer[caComponent]
	started := make(chan error, 1)
	go func() {
		for snap := range p.watcher.Subscribe(ctx) {
			if c := running.Load(); c != nil {
				c.apply(snap)
				continue
			}
			c, err := p.startCA(ctx, snap, f.data, f.caServeFlags, nil)
			if err != nil {
				started <- err
				return
			}
			running.Store(c)
			started <- nil
		}
	}()
	if err := p.serveStatus(func() bool { return running.Load() != nil }); err != nil {
		return err
	}
	defer p.closeStatus()
	p.log.Info("gatehouse ca started", "version", version, "config", f.config, "listen", f.listen,
		"status", f.statusPort, "stats", f.statsPort, "admin", f.adminPort)
	go func() { _ = p.watcher.Run(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			return err
		}
	case <-ctx.Done():
		return nil
	}
	<-ctx.Done()
	p.draining.Store(true)
	running.Load().stop()
	p.log.Info("stopped")
	return nil
}

// caComponent is the running CA: the Authority, its bootstrap tokens and the gRPC server.
type caComponent struct {
	log       *slog.Logger
	store     *sds.Store
	authority *ca.Authority
	tokens    *ca.Tokens
	server    *ca.Server // nil when the API is off
	grpc      *grpc.Server
}

// startCA builds the Authority for snap's trust domain and serves its API on f.listen. The
// trust domain is read once: changing it means new identities for every workload, which a
// restart makes explicit.
//
// xds, when not nil, is served on the same port, as istiod serves xDS and the CA on 15012: to
// proxies elsewhere, over TLS, each authenticated by its workload certificate (meshPeer).
func (p *process) startCA(ctx context.Context, snap *policy.Snapshot, data string, f caServeFlags, xds *sds.Server) (*caComponent, error) {
	settings := snap.Settings.CA
	kube, plugin, err := p.startKubeCA(ctx, data, f.plugin, snap.Mesh.GetTrustDomain())
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	a, err := ca.New(ca.Options{
		DataDir: data, PluginDir: plugin,
		TrustDomain: snap.Mesh.GetTrustDomain(), TrustDomainAliases: snap.Mesh.GetTrustDomainAliases(),
		DefaultTTL: settings.WorkloadCertTTL.Std(), MaxTTL: settings.MaxWorkloadCertTTL.Std(),
		Logger: p.log, Registerer: p.reg,
	})
	if err != nil {
		if kube != nil {
			kube.stop()
		}
		return nil, fmt.Errorf("ca: %w", err)
	}
	go func() {
		if err := a.Run(ctx); err != nil && ctx.Err() == nil {
			p.log.Error("ca: plug-in watch stopped", "error", err)
		}
	}()
	c := &caComponent{log: p.log, store: p.store, authority: a, tokens: ca.NewTokens(filepath.Join(data, "ca", "token-uses"))}
	c.tokens.Apply(c.tokenSpecs(snap))
	var redeemer ca.TokenRedeemer = c.tokens
	if kube != nil {
		redeemer = kube.serve(a, c.tokens)
	}
	if f.listen == "" {
		return c, nil
	}
	srv := ca.NewServer(a, ca.ServerOptions{Tokens: redeemer, RateLimit: rate.Limit(settings.RateLimit.PerSecond), Burst: settings.RateLimit.Burst,
		Logger: p.log, Registerer: p.reg})
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		if kube != nil {
			kube.stop()
		}
		return nil, fmt.Errorf("--ca-listen: %w", err)
	}
	c.server = srv
	c.grpc = grpc.NewServer(grpc.Creds(credentials.NewTLS(srv.TLSConfig())))
	srv.Register(c.grpc)
	if xds != nil {
		xds.Register(c.grpc)
	}
	reflection.Register(c.grpc)
	go func() { _ = c.grpc.Serve(ln) }()
	p.log.Info("ca: IstioCertificateService listening", "address", ln.Addr().String(), "trustDomain", a.TrustDomain())
	return c, nil
}

// applyCA starts the CA on the first snapshot it can start on, and gives it every later one.
// A CA that cannot start (a bad plug-in, a taken port) is logged and tried again with the next
// snapshot; the rest of the process serves on.
func (p *process) applyCA(ctx context.Context, c *caComponent, snap *policy.Snapshot, data string, f caServeFlags, xds *sds.Server) *caComponent {
	if c != nil {
		c.apply(snap)
		return c
	}
	c, err := p.startCA(ctx, snap, data, f, xds)
	if err != nil {
		p.log.Error("ca not started; retried with the next config change", "error", err)
		return nil
	}
	return c
}

// apply takes a new snapshot's bootstrap tokens, certificate lifetimes and rate limit. A
// changed trust domain is logged: it takes a restart.
func (c *caComponent) apply(snap *policy.Snapshot) {
	if td := snap.Mesh.GetTrustDomain(); td != "" && td != c.authority.TrustDomain() {
		c.log.Warn("ca: MeshConfig trustDomain changed; the CA keeps issuing in the old one until restarted", "serving", c.authority.TrustDomain(), "configured", td)
	}
	settings := snap.Settings.CA
	if err := c.authority.SetTTLs(settings.WorkloadCertTTL.Std(), settings.MaxWorkloadCertTTL.Std()); err != nil {
		c.log.Error("ca: certificate lifetimes kept", "version", snap.Version, "error", err)
	}
	if c.server != nil {
		c.server.SetRateLimit(rate.Limit(settings.RateLimit.PerSecond), settings.RateLimit.Burst)
	}
	c.tokens.Apply(c.tokenSpecs(snap))
}

func (c *caComponent) stop() {
	if c.grpc != nil {
		c.grpc.GracefulStop()
	}
}

// tokenSpecs resolves snap's BootstrapTokens with their Secrets' values. A token whose Secret
// is missing, or shorter than policy.MinBootstrapTokenBytes, is left out and logged by name.
func (c *caComponent) tokenSpecs(snap *policy.Snapshot) []ca.TokenSpec {
	var out []ca.TokenSpec
	for _, r := range snap.List(policy.KindBootstrapToken) {
		bt, ok := r.Spec.(*policy.BootstrapToken)
		if !ok {
			continue
		}
		v, ok := c.store.SecretValue(r.Namespace, bt.Token.Name, bt.Token.Key)
		token := strings.TrimRight(string(v), "\r\n")
		if !ok || len(token) < policy.MinBootstrapTokenBytes {
			c.log.Error("ca: bootstrap token left out: its Secret key is missing or shorter than 16 bytes", "token", r.NamespacedName(),
				"secret", r.Namespace+"/"+bt.Token.Name, "key", bt.Token.Key)
			continue
		}
		spec := ca.TokenSpec{Name: r.NamespacedName(), Token: []byte(token), MaxUses: bt.MaxUses,
			Identity: ca.Identity{TrustDomain: c.authority.TrustDomain(), Namespace: r.Namespace, ServiceAccount: bt.ServiceAccount}}
		if bt.Expires != nil {
			spec.Expires = *bt.Expires
		}
		out = append(out, spec)
	}
	return out
}

// identityFlags say where the gateway's own mesh identity comes from: the in-process CA, or a
// remote one reached as istio-agent reaches istiod.
type identityFlags struct {
	serviceAccount string
	caAddress      string
	caRoot         string
	caTokenFile    string
}

func (f *identityFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	// Istio's ingress gateway runs as this service account, so its SPIFFE ID matches policies written for it.
	fl.StringVar(&f.serviceAccount, "service-account", "istio-ingressgateway-service-account", "service account of this gateway: its mesh identity is spiffe://<trustDomain>/ns/<namespace>/sa/<this>")
	fl.StringVar(&f.caAddress, "ca-address", "", "a remote CA (host:port of its IstioCertificateService) for this gateway's identity; default: the in-process CA")
	fl.StringVar(&f.caRoot, "ca-root", "", "with --ca-address: PEM roots that verify the remote CA's serving certificate")
	fl.StringVar(&f.caTokenFile, "ca-token-file", "", "with --ca-address: a file holding the bootstrap token for the first certificate (renewals use the certificate); read at each use")
}

// startIdentity starts the secret manager that keeps the gateway's mesh certificate and the
// trust bundle in p's store as "default" and "ROOTCA": from the remote CA when one is given,
// else from c, the in-process CA. It returns false when it cannot start yet (no CA).
func (p *process) startIdentity(ctx context.Context, f identityFlags, c *caComponent, snap *policy.Snapshot) (bool, error) {
	var signer workload.Signer
	var m *workload.Manager
	switch {
	case f.caAddress != "":
		pemBytes, err := os.ReadFile(f.caRoot)
		if err != nil {
			return false, fmt.Errorf("--ca-root: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pemBytes) {
			return false, fmt.Errorf("--ca-root %s: no PEM certificate", f.caRoot)
		}
		signer = workload.Remote(f.caAddress, workload.RemoteOptions{Roots: roots,
			Token: func() string {
				b, err := os.ReadFile(f.caTokenFile)
				if err != nil {
					return ""
				}
				return strings.TrimSpace(string(b))
			},
			Current: func() *tls.Certificate { return m.Current() },
		})
	case c != nil:
		td := c.authority.TrustDomain()
		signer = workload.Local(c.authority, ca.Identity{TrustDomain: td, Namespace: p.workload.Namespace, ServiceAccount: f.serviceAccount})
	default:
		return false, nil
	}
	m = workload.New(workload.Options{Store: p.store, Signer: signer, Logger: p.log, Registerer: p.reg})
	go func() { _ = m.Run(ctx) }()
	p.log.Info("mesh identity: workload certificate manager started", "ca", cmp.Or(f.caAddress, "in-process"),
		"namespace", p.workload.Namespace, "serviceAccount", f.serviceAccount, "version", snap.Version)
	return true, nil
}

// meshPeer is the xDS server's ServerOptions.Peer: a stream over the CA's TLS port is a remote
// proxy, known by the workload certificate it presented (none: refused); a stream on the local
// listeners is trusted. ca returns the running CA, nil before it starts (no TLS port yet).
func meshPeer(ca func() *caComponent) func(context.Context) (*sds.RemotePeer, error) {
	return func(ctx context.Context) (*sds.RemotePeer, error) {
		c := ca()
		if c == nil || c.server == nil {
			return nil, nil
		}
		id, remote, err := c.server.PeerIdentity(ctx)
		if !remote {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return &sds.RemotePeer{Namespace: id.Namespace, ServiceAccount: id.ServiceAccount}, nil
	}
}
