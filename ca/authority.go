package ca

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults, as istiod's: 24h workload certs (DEFAULT_WORKLOAD_CERT_TTL), 90 days at most
// (MAX_WORKLOAD_CERT_TTL).
const (
	DefaultTrustDomain = "cluster.local"
	DefaultTTL         = 24 * time.Hour
	DefaultMaxTTL      = 90 * 24 * time.Hour
)

// Options configures New. Zero values take the defaults above; Logger and Registerer may be nil.
type Options struct {
	// DataDir keeps the bootstrapped root (ca/root-cert.pem, ca/root-key.pem with mode 0600).
	// Unused when PluginDir is set.
	DataDir string
	// PluginDir is an optional plug-in CA in Istio's cacerts layout (ca-cert.pem, ca-key.pem,
	// cert-chain.pem, root-cert.pem) or kubernetes.io/tls layout (tls.crt, tls.key, ca.crt),
	// hot-reloaded by Run.
	PluginDir          string
	TrustDomain        string
	TrustDomainAliases []string
	DefaultTTL, MaxTTL time.Duration
	Logger             *slog.Logger
	// Registerer gets the reload metrics; nil registers nothing.
	Registerer prometheus.Registerer
	Now        func() time.Time
}

// Authority issues workload certificates. Its signer (key, signing cert, chain, trust bundle)
// is an immutable value swapped atomically when a plug-in CA changes, so a Sign in flight
// finishes with the signer it started with.
type Authority struct {
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	domains []string
	cur     atomic.Pointer[signer]
	reloads *prometheus.CounterVec
	// ttls are the default and maximum leaf lifetimes, which a config change may move.
	ttls atomic.Pointer[[2]time.Duration]
}

// SetTTLs changes the default and maximum leaf lifetimes (Settings.ca); zero keeps istiod's
// defaults. Certificates already issued keep theirs.
func (a *Authority) SetTTLs(def, max time.Duration) error {
	if def <= 0 {
		def = DefaultTTL
	}
	if max <= 0 {
		max = DefaultMaxTTL
	}
	if def > max {
		return fmt.Errorf("ca: default TTL %s exceeds max TTL %s", def, max)
	}
	a.ttls.Store(&[2]time.Duration{def, max})
	return nil
}

// signer is one generation of CA material, never mutated after it is built.
type signer struct {
	cert *x509.Certificate
	key  crypto.Signer
	// chain is the verified path cert → root: cert first, root last, no duplicates.
	chain []*x509.Certificate
	// chainPEM is chain PEM-encoded, appended after every leaf.
	chainPEM []string
	// notAfter is the earliest NotAfter of chain: no leaf may outlive it.
	notAfter time.Time
	roots    []*x509.Certificate
	rootsPEM []byte
	pool     *x509.CertPool
	// changed is closed when this signer is replaced.
	changed chan struct{}
	// source says where the material came from, for logs.
	source string
}

// New bootstraps a root in DataDir (or loads the one bootstrapped before), or loads the
// plug-in CA in PluginDir, and logs the root it will sign under.
func New(o Options) (*Authority, error) {
	if o.TrustDomain == "" {
		o.TrustDomain = DefaultTrustDomain
	}
	if err := validTrustDomain(o.TrustDomain); err != nil {
		return nil, fmt.Errorf("ca: trustDomain: %w", err)
	}
	for i, alias := range o.TrustDomainAliases {
		if err := validTrustDomain(alias); err != nil {
			return nil, fmt.Errorf("ca: trustDomainAliases[%d]: %w", i, err)
		}
	}
	if o.DefaultTTL <= 0 {
		o.DefaultTTL = DefaultTTL
	}
	if o.MaxTTL <= 0 {
		o.MaxTTL = DefaultMaxTTL
	}
	if o.DefaultTTL > o.MaxTTL {
		return nil, fmt.Errorf("ca: default TTL %s exceeds max TTL %s", o.DefaultTTL, o.MaxTTL)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	a := &Authority{
		opts: o,
		log:  o.Logger.With("component", "ca"),
		now:  o.Now,
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_ca_plugin_reloads_total",
			Help: "Plug-in CA reloads by result (ok, error).",
		}, []string{"result"}),
	}
	a.ttls.Store(&[2]time.Duration{o.DefaultTTL, o.MaxTTL})
	a.domains = append([]string{o.TrustDomain}, o.TrustDomainAliases...)
	if o.Registerer != nil {
		a.reloads = register(o.Registerer, a.reloads)
	}
	var (
		s   *signer
		err error
	)
	if o.PluginDir != "" {
		s, err = loadPlugin(o.PluginDir, a.now())
	} else {
		s, err = a.bootstrap()
	}
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	a.cur.Store(s)
	a.logSigner("CA ready", s)
	return a, nil
}

// TrustDomain is the trust domain every leaf is issued in.
func (a *Authority) TrustDomain() string { return a.opts.TrustDomain }

// TrustDomains is the trust domain then its aliases: the SPIFFE IDs accepted from peers.
func (a *Authority) TrustDomains() []string { return slices.Clone(a.domains) }

// RootsPEM is the trust bundle: every root, PEM-encoded.
func (a *Authority) RootsPEM() []byte { return slices.Clone(a.cur.Load().rootsPEM) }

// Roots is the trust bundle as a pool. Callers must not modify it.
func (a *Authority) Roots() *x509.CertPool { return a.cur.Load().pool }

// Changed returns a channel closed when the signer or the bundle changes. Call it again after
// it fires to wait for the next change.
func (a *Authority) Changed() <-chan struct{} { return a.cur.Load().changed }

// isTrustDomain reports whether td is the trust domain or one of its aliases.
func (a *Authority) isTrustDomain(td string) bool { return slices.Contains(a.domains, td) }

// Run watches PluginDir and swaps the signer when its files change; a bad plug-in is logged
// and the last good one keeps signing. Without a PluginDir it only waits for ctx.
func (a *Authority) Run(ctx context.Context) error {
	if a.opts.PluginDir == "" {
		<-ctx.Done()
		return nil
	}
	return a.watchPlugin(ctx)
}

// swap installs s and wakes the Changed waiters of the signer it replaces.
func (a *Authority) swap(s *signer) {
	old := a.cur.Swap(s)
	close(old.changed)
}

func (a *Authority) logSigner(msg string, s *signer) {
	root := s.chain[len(s.chain)-1]
	a.log.Info(msg,
		"source", s.source,
		"signer", s.cert.Subject.String(),
		"signerNotAfter", s.cert.NotAfter,
		"root", root.Subject.String(),
		"rootSerial", hex.EncodeToString(root.SerialNumber.Bytes()),
		"rootSHA256", fingerprint(root),
		"rootNotAfter", root.NotAfter,
		"bundleRoots", len(s.roots),
		"trustDomain", a.opts.TrustDomain)
}

func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// newSigner checks that key matches cert, that cert may sign certificates, and that it chains
// through intermediates to one of roots; it returns the signer with its verified chain.
func newSigner(cert *x509.Certificate, key crypto.Signer, intermediates, roots []*x509.Certificate, now time.Time, source string) (*signer, error) {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, errors.New("the private key does not match the signing certificate")
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return nil, fmt.Errorf("signing certificate %q is not a CA (basicConstraints CA:TRUE missing)", cert.Subject)
	}
	if cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("signing certificate %q lacks keyUsage keyCertSign", cert.Subject)
	}
	if len(roots) == 0 {
		return nil, errors.New("the trust bundle has no root certificate")
	}
	pool := x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	inter := x509.NewCertPool()
	for _, c := range intermediates {
		inter.AddCert(c)
	}
	chains, err := cert.Verify(x509.VerifyOptions{
		Roots:         pool,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, fmt.Errorf("signing certificate %q does not chain to a root of the bundle: %w", cert.Subject, err)
	}
	chain := shortest(chains)
	s := &signer{
		cert:     cert,
		key:      key,
		chain:    chain,
		notAfter: chain[0].NotAfter,
		roots:    roots,
		pool:     pool,
		changed:  make(chan struct{}),
		source:   source,
	}
	for _, c := range chain {
		if c.NotAfter.Before(s.notAfter) {
			s.notAfter = c.NotAfter
		}
		s.chainPEM = append(s.chainPEM, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})))
	}
	for _, r := range roots {
		s.rootsPEM = append(s.rootsPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.Raw})...)
	}
	return s, nil
}

// shortest picks the shortest verified chain, so the chain served is deterministic when the
// bundle holds cross-signed roots.
func shortest(chains [][]*x509.Certificate) []*x509.Certificate {
	best := chains[0]
	for _, c := range chains[1:] {
		if len(c) < len(best) {
			best = c
		}
	}
	return best
}

// sameMaterial reports whether two signers would issue identical chains under the same bundle.
func sameMaterial(a, b *signer) bool {
	return slices.Equal(a.chainPEM, b.chainPEM) && string(a.rootsPEM) == string(b.rootsPEM)
}

// register registers c, or returns the identical collector already registered (several
// Authorities or Servers in one process share them).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic("ca: registering metrics: " + err.Error())
	}
	return c
}
