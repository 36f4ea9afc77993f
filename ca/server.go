package ca

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	securityapi "istio.io/api/security/v1alpha1"
)

// Server defaults.
const (
	DefaultRateLimit rate.Limit = 10
	DefaultBurst     int        = 20
)

// DefaultServingNames are the names istio-agent dials istiod by, plus loopback.
var DefaultServingNames = []string{"istiod.istio-system.svc", "localhost", "127.0.0.1"}

// ServerOptions configures NewServer. Zero values take the defaults; Logger and Registerer may be nil.
type ServerOptions struct {
	// Tokens redeems bootstrap tokens; nil accepts none.
	Tokens TokenRedeemer
	// RateLimit and Burst bound CreateCertificate per identity; zero means 10/s, burst 20.
	RateLimit rate.Limit
	Burst     int
	// ServingNames are the DNS names and IP addresses of the serving certificate
	// (default DefaultServingNames).
	ServingNames []string
	Logger       *slog.Logger
	// Registerer gets the signing metrics; nil registers nothing.
	Registerer prometheus.Registerer
}

// TokenRedeemer turns a bootstrap token into the identity it binds; an error means the caller
// is not authenticated.
type TokenRedeemer interface {
	Redeem(ctx context.Context, token string) (Identity, error)
}

// Server is the IstioCertificateService of an Authority.
type Server struct {
	securityapi.UnimplementedIstioCertificateServiceServer
	a       *Authority
	tokens  TokenRedeemer
	log     *slog.Logger
	limits  atomic.Pointer[limiters]
	serving *servingCert
	metrics *serverMetrics
}

// NewServer returns the gRPC service for a.
func NewServer(a *Authority, o ServerOptions) *Server {
	if o.RateLimit == 0 {
		o.RateLimit = DefaultRateLimit
	}
	if o.Burst <= 0 {
		o.Burst = DefaultBurst
	}
	if len(o.ServingNames) == 0 {
		o.ServingNames = DefaultServingNames
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	log := o.Logger.With("component", "ca-server")
	s := &Server{
		a:       a,
		tokens:  o.Tokens,
		log:     log,
		serving: newServingCert(a, o.ServingNames, log),
		metrics: newServerMetrics(o.Registerer),
	}
	s.limits.Store(newLimiters(o.RateLimit, o.Burst))
	return s
}

// SetRateLimit changes the per-identity limit (Settings.ca.rateLimit). A change starts every
// identity with a full bucket; an unchanged limit keeps the buckets.
func (s *Server) SetRateLimit(limit rate.Limit, burst int) {
	if limit == 0 {
		limit = DefaultRateLimit
	}
	if burst <= 0 {
		burst = DefaultBurst
	}
	if cur := s.limits.Load(); cur.limit == limit && cur.burst == burst {
		return
	}
	s.limits.Store(newLimiters(limit, burst))
}

// Register adds istio.v1.auth.IstioCertificateService to r.
func (s *Server) Register(r grpc.ServiceRegistrar) {
	securityapi.RegisterIstioCertificateServiceServer(r, s)
}

// errUnauthenticated is the one answer every unauthenticated caller gets, whatever failed:
// which check failed is logged, never returned.
var errUnauthenticated = status.Error(codes.Unauthenticated, "unauthenticated")

// CreateCertificate signs the CSR for the caller's authenticated identity, never for the names
// the CSR asks for. validity_duration (seconds) is the requested TTL.
func (s *Server) CreateCertificate(ctx context.Context, req *securityapi.IstioCertificateRequest) (*securityapi.IstioCertificateResponse, error) {
	id, err := s.authenticate(ctx)
	if err != nil {
		s.metrics.issued.WithLabelValues("unauthenticated").Inc()
		s.log.Debug("CreateCertificate refused", "reason", err)
		return nil, errUnauthenticated
	}
	if !s.limits.Load().allow(id, time.Now()) {
		s.metrics.issued.WithLabelValues("rate_limited").Inc()
		return nil, status.Error(codes.ResourceExhausted, "rate limit exceeded")
	}
	start := time.Now()
	chain, err := s.a.Sign([]byte(req.GetCsr()), id, requestedTTL(req.GetValidityDuration()))
	s.metrics.signSeconds.Observe(time.Since(start).Seconds())
	switch {
	case errors.Is(err, ErrBadCSR):
		s.metrics.issued.WithLabelValues("invalid_csr").Inc()
		return nil, status.Error(codes.InvalidArgument, err.Error())
	case err != nil:
		s.metrics.issued.WithLabelValues("error").Inc()
		s.log.Error("signing failed", "identity", id.SPIFFE(), "error", err)
		return nil, status.Error(codes.Internal, "signing failed")
	}
	s.metrics.issued.WithLabelValues("ok").Inc()
	s.log.Debug("certificate issued", "identity", id.SPIFFE())
	return &securityapi.IstioCertificateResponse{CertChain: chain}, nil
}

// requestedTTL converts validity_duration without overflowing: Sign clamps it to the maximum.
func requestedTTL(seconds int64) time.Duration {
	if seconds <= 0 {
		return 0
	}
	if seconds > math.MaxInt64/int64(time.Second) {
		return math.MaxInt64
	}
	return time.Duration(seconds) * time.Second
}
