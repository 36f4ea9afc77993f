package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/ca"
	"github.com/gatehouse-dev/gatehouse/ca/posture"
	"github.com/gatehouse-dev/gatehouse/gateway"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/sds"
	"github.com/gatehouse-dev/gatehouse/sds/meshmode"
)

type sidecarFlags struct {
	processFlags
	identityFlags
	inbound    []string
	outbound   []string
	xdsAddress string
	mode       string
	name       string
}

func newSidecarCmd() *cobra.Command {
	var f sidecarFlags
	cmd := &cobra.Command{
		Use:   "sidecar",
		Short: "Run the internal proxy beside an app: mesh mTLS in, ISTIO_MUTUAL out, the mode from xDS",
		Long: "Serves a workload as an Istio sidecar does, without Envoy. Each --inbound PORT=APPPORT listens\n" +
			"on PORT for peers and forwards to 127.0.0.1:APPPORT, enforcing the port's PeerAuthentication\n" +
			"mode: STRICT takes mesh mTLS only; PERMISSIVE also plaintext, and passes TLS that is not mesh\n" +
			"mTLS through to the app; DISABLE plaintext only. The peer's SPIFFE ID reaches the config's\n" +
			"AuthorizationPolicies (principals, namespaces, source.*) and the app (x-forwarded-client-cert).\n" +
			"Each --outbound HOST:PORT=LOCALPORT takes the app's plaintext HTTP on 127.0.0.1:LOCALPORT\n" +
			"and originates ISTIO_MUTUAL to HOST:PORT, as declared by a ServiceEntry in --config, checking\n" +
			"the server's identity (secure naming).\n\n" +
			"The certificate comes from --ca-address (Istio's CSR API, first with --ca-token-file), the\n" +
			"modes from --xds-address (ADS over TLS with that certificate; until it answers, PERMISSIVE),\n" +
			"or --mode pins one for every port.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSidecar(cmd.Context(), f) },
	}
	f.processFlags.register(cmd)
	f.identityFlags.register(cmd)
	setFlagDefault(cmd, "namespace", "default", "namespace of this workload")
	setFlagDefault(cmd, "labels", "", "labels of this workload, matched by AuthorizationPolicy selectors (k=v,k=v)")
	setFlagDefault(cmd, "service-account", "default", "service account of this workload: its identity is spiffe://<trustDomain>/ns/<namespace>/sa/<this>")
	setFlagDefault(cmd, "ca-address", "", "the CA (host:port of its IstioCertificateService, Gatehouse's 15012) issuing this workload's certificate; without it mTLS fails")
	fl := cmd.Flags()
	fl.StringArrayVar(&f.inbound, "inbound", nil, "PORT=APPPORT: serve peers on PORT, forward to 127.0.0.1:APPPORT (repeatable, or a comma list)")
	fl.StringArrayVar(&f.outbound, "outbound", nil, "HOST:PORT=LOCALPORT: take the app's plaintext on 127.0.0.1:LOCALPORT, ISTIO_MUTUAL to HOST:PORT (repeatable, or a comma list)")
	fl.StringVar(&f.xdsAddress, "xds-address", "", "xDS server (host:port, TLS, Gatehouse's 15012) giving each inbound port's mTLS mode")
	fl.StringVar(&f.mode, "mode", "", "STRICT, PERMISSIVE or DISABLE for every inbound port, instead of asking --xds-address")
	host, _ := os.Hostname()
	fl.StringVar(&f.name, "name", host, "name of this workload instance (the pod name in its xDS node id)")
	return cmd
}

// setFlagDefault gives a shared flag the sidecar's own default and usage.
func setFlagDefault(cmd *cobra.Command, name, value, usage string) {
	fl := cmd.Flags().Lookup(name)
	_ = fl.Value.Set(value)
	fl.DefValue, fl.Usage = value, usage
}

func runSidecar(ctx context.Context, f sidecarFlags) error {
	inbound, err := parseInbound(f.inbound)
	if err != nil {
		return err
	}
	outbound, err := parseOutbound(f.outbound)
	if err != nil {
		return err
	}
	if len(inbound)+len(outbound) == 0 {
		return fmt.Errorf("nothing to serve: give --inbound and/or --outbound")
	}
	pinned := posture.Mode(strings.ToUpper(f.mode))
	switch pinned {
	case "", posture.Strict, posture.Permissive, posture.Disable:
	default:
		return fmt.Errorf("--mode %q: not STRICT, PERMISSIVE or DISABLE", f.mode)
	}
	p, err := newProcess(f.processFlags, true)
	if err != nil {
		return err
	}
	spec := sidecarSpec{Namespace: p.workload.Namespace, Labels: p.workload.Labels, Inbound: inbound, Outbound: outbound}
	az := p.newAuthz()
	defer az.keys.Close()
	sc := &sidecar{log: p.log, az: az, spec: spec,
		pol: posture.Policy{Default: posture.Permissive}, // Istio's default, until xDS answers
		in:  p.sidecarGateway(spec, directionInbound, az.engine),
		out: p.sidecarGateway(spec, directionOutbound, nil),
	}
	if pinned != "" {
		sc.pol.Default = pinned
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	run := []func(context.Context) error{p.watcher.Run}
	switch {
	case pinned != "":
		p.log.Info("sidecar: mTLS mode pinned by --mode", "mode", pinned)
	case f.xdsAddress == "":
		p.log.Warn("sidecar: no --xds-address or --mode: every inbound port stays PERMISSIVE")
	default:
		client, err := p.meshModeClient(f, sc.setPolicy)
		if err != nil {
			return err
		}
		run = append(run, client.Run)
	}
	if f.caAddress == "" {
		p.log.Warn("sidecar: no --ca-address: without a mesh certificate mTLS handshakes fail; only plaintext is served")
	}
	if err := p.serveStatus(func() bool { return sc.in.Ready() && sc.out.Ready() }); err != nil {
		return err
	}
	defer p.closeStatus()
	go func() {
		identity := false
		for snap := range p.watcher.Subscribe(ctx) {
			if !identity && f.caAddress != "" {
				var err error
				if identity, err = p.startIdentity(ctx, f.identityFlags, nil, snap); err != nil {
					p.log.Error("sidecar: mesh identity not started; mTLS fails until it is", "error", err)
				}
			}
			sc.setConfig(snap)
		}
	}()
	p.log.Info("gatehouse sidecar started", "version", version, "config", f.config, "namespace", spec.Namespace,
		"inbound", f.inbound, "outbound", f.outbound, "xds", f.xdsAddress, "status", f.statusPort, "stats", f.statsPort, "admin", f.adminPort)
	if err := runAll(ctx, run...); err != nil {
		return err
	}
	p.draining.Store(true)
	errOut := p.drain(sc.out)
	err = p.drain(sc.in)
	p.log.Info("stopped")
	if err == nil {
		err = errOut
	}
	return err
}

// sidecarGateway is the gateway of one direction: inbound decides every request with checker
// for the workload (its namespace and labels); outbound, the app's own requests, with none.
func (p *process) sidecarGateway(s sidecarSpec, direction string, checker authz.Checker) *gateway.Gateway {
	o := gateway.Options{
		Logger:      p.log.With("direction", direction),
		Registerer:  p.reg,
		Compile:     gateway.CompileOptions{Namespace: s.Namespace, Labels: s.directionLabels(direction)},
		Credentials: p.store,
	}
	if checker != nil {
		o.Authz = checker
		o.Providers = p.providers
		o.AuthzWorkload = authz.NewWorkload(s.Namespace, s.Labels)
	}
	return gateway.New(o)
}

// meshModeClient is the ADS client reading the inbound ports' modes from --xds-address, over
// TLS with the workload certificate the identity manager keeps in p's store.
func (p *process) meshModeClient(f sidecarFlags, onPolicy func(posture.Policy)) (*meshmode.Client, error) {
	// The server knows a remote proxy by its certificate and refuses a node naming another
	// identity: the node names the certificate's namespace and service account once there is one.
	node := func() (*core.Node, error) {
		w := meshmode.Workload{Name: f.name, Namespace: p.workload.Namespace, ServiceAccount: f.serviceAccount, Labels: p.workload.Labels}
		if c, ok := p.store.Get("default"); ok && c.Certificate != nil && c.Certificate.Leaf != nil && len(c.Certificate.Leaf.URIs) > 0 {
			if id, err := ca.ParseSPIFFE(c.Certificate.Leaf.URIs[0].String()); err == nil {
				w.Namespace, w.ServiceAccount = id.Namespace, id.ServiceAccount
			}
		}
		return meshmode.Node(w)
	}
	cfg, err := p.xdsTLSConfig(f)
	if err != nil {
		return nil, err
	}
	var token func() string
	if f.caTokenFile != "" {
		token = func() string {
			if c, ok := p.store.Get("default"); ok && c.Certificate != nil {
				return ""
			}
			b, err := os.ReadFile(f.caTokenFile)
			if err != nil {
				return ""
			}
			return strings.TrimSpace(string(b))
		}
	}
	return meshmode.NewClient(f.xdsAddress, meshmode.Options{
		Logger: p.log, Node: node, Token: token, OnPolicy: onPolicy,
		DialOptions: []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(cfg))},
	}), nil
}

// xdsTLSConfig verifies the xDS server with --ca-root (the same server as the CA on 15012),
// else the mesh roots, and presents the workload certificate current at each handshake.
func (p *process) xdsTLSConfig(f sidecarFlags) (*tls.Config, error) {
	host, _, err := net.SplitHostPort(f.xdsAddress)
	if err != nil {
		return nil, fmt.Errorf("--xds-address %q: %w", f.xdsAddress, err)
	}
	cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if f.caRoot != "" {
		b, err := os.ReadFile(f.caRoot)
		if err != nil {
			return nil, fmt.Errorf("--ca-root: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("--ca-root %s: no PEM certificate", f.caRoot)
		}
		cfg.RootCAs = roots
	} else {
		// The mesh roots arrive with the certificate: verify against them at each handshake.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error { return verifyWithStoreRoots(p.store, cs) }
	}
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if c, ok := p.store.Get("default"); ok && c.Certificate != nil {
			return c.Certificate, nil
		}
		return &tls.Certificate{}, nil
	}
	return cfg, nil
}

// verifyWithStoreRoots verifies a server chain, with its host name, against the store's ROOTCA.
func verifyWithStoreRoots(store *sds.Store, cs tls.ConnectionState) error {
	roots, ok := store.Get("ROOTCA")
	if !ok || roots.Roots == nil {
		return fmt.Errorf("no mesh roots (ROOTCA) yet to verify the xDS server with")
	}
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("the xDS server sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: cs.ServerName, Roots: roots.Roots, Intermediates: inter})
	return err
}

// sidecar re-synthesizes and applies the sidecar's snapshot whenever the config or a port's mode
// changes. The gateways keep their sockets across Applies, so a mode change is hitless: new
// connections follow the new mode.
type sidecar struct {
	log     *slog.Logger
	az      *inProcessAuthz
	in, out *gateway.Gateway
	spec    sidecarSpec

	mu      sync.Mutex
	user    *policy.Snapshot
	pol     posture.Policy
	version uint64
}

func (s *sidecar) setConfig(snap *policy.Snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user = snap
	s.applyLocked()
}

func (s *sidecar) setPolicy(pol posture.Policy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pol.Default == s.pol.Default && maps.Equal(pol.Ports, s.pol.Ports) {
		return
	}
	s.pol = pol
	for _, in := range s.spec.Inbound {
		s.log.Info("sidecar: inbound mTLS mode", "port", in.Port, "mode", pol.For(in.Port))
	}
	if s.user != nil {
		s.applyLocked()
	}
}

func (s *sidecar) applyLocked() {
	s.version++
	snap := sidecarSnapshot(s.user, s.spec, s.pol, s.version)
	// Policies are in force before the listeners of the same snapshot serve.
	s.az.apply(snap)
	for _, gw := range []*gateway.Gateway{s.in, s.out} {
		if err := gw.Apply(snap); err != nil {
			s.log.Error("sidecar kept its previous config", "config", s.user.Version, "error", err)
		}
	}
}
