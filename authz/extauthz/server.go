package extauthz

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/gatehouse-dev/gatehouse/authz"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// Options configure a Server; the zero value is usable.
type Options struct {
	// Log receives malformed requests at warn level. Nil discards.
	Log *slog.Logger
	// DefaultWorkload is whose policies apply when a request names no workload and its
	// destination principal carries no namespace. Nil denies such requests.
	DefaultWorkload *authz.Workload
	// PathPrefix is Envoy's http_service.path_prefix, stripped from the HTTP server's paths.
	PathPrefix string
	// Custom asks the CUSTOM extension provider a matched CUSTOM rule names, and answers as that
	// provider would answer Envoy: OK with its changes, or its denial. body is the request body
	// the CheckRequest carries. Nil denies such requests. (provider.Set's CheckResponse is one.)
	Custom func(ctx context.Context, provider string, r *authz.Request, body []byte) *authv3.CheckResponse
}

// Server answers Envoy's ext_authz checks, over gRPC (Check) and HTTP (ServeHTTP), with a Checker.
type Server struct {
	authv3.UnimplementedAuthorizationServer

	checker    authz.Checker
	log        *slog.Logger
	prefix     string
	workloads  *workloads
	settings   atomic.Pointer[settings]
	custom     func(context.Context, string, *authz.Request, []byte) *authv3.CheckResponse
	health     *health.Server
	configured atomic.Bool
}

var (
	_ authv3.AuthorizationServer = (*Server)(nil)
	_ authz.Checker              = (*Client)(nil)
)

// NewServer returns a Server asking c. Until Apply it uses Istio's default mesh settings and
// reports NOT_SERVING on gRPC health.
func NewServer(c authz.Checker, opts Options) *Server {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{checker: c, log: log, prefix: opts.PathPrefix, custom: opts.Custom, workloads: newWorkloads(opts.DefaultWorkload), health: health.NewServer()}
	s.settings.Store(defaultSettings)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	s.health.SetServingStatus(authv3.Authorization_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)
	return s
}

// Apply installs the mesh settings of snap (pathNormalization, numTrustedProxies). Call it after
// the Checker has the snapshot's policies: the first call marks the server SERVING.
func (s *Server) Apply(snap *policy.Snapshot) {
	s.settings.Store(settingsFrom(snap))
	if !s.configured.Swap(true) {
		s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
		s.health.SetServingStatus(authv3.Authorization_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	}
}

// Ready reports whether a config has been applied.
func (s *Server) Ready() bool { return s.configured.Load() }

// RegisterGRPC registers the Authorization service, grpc.health.v1 and reflection on g.
func (s *Server) RegisterGRPC(g *grpc.Server) {
	authv3.RegisterAuthorizationServer(g, s)
	healthpb.RegisterHealthServer(g, s.health)
	reflection.Register(g)
}

// Shutdown makes health report NOT_SERVING, so callers move away before the server stops.
func (s *Server) Shutdown() { s.health.Shutdown() }

// Check implements envoy.service.auth.v3.Authorization/Check. It never returns an error: every
// problem is a denial, so that no Envoy failure_mode_allow setting can turn it into an allow.
func (s *Server) Check(ctx context.Context, cr *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	r, bad := s.checkRequest(cr)
	if bad != nil {
		s.log.WarnContext(ctx, "ext_authz: malformed check request", "reason", bad.Reason)
		return checkResponse(*bad), nil
	}
	d := s.checker.Check(ctx, r)
	// The provider is asked whenever a CUSTOM rule matched, even if DENY/ALLOW will refuse: Envoy's
	// ext_authz filter runs first, and its denial is the one the client sees.
	if d.CustomProvider != "" && s.custom != nil {
		return s.chainCustom(ctx, cr, r, d), nil
	}
	return checkResponse(s.noCustom(ctx, d)), nil
}

// decide asks the checker, for the HTTP service, which does not chain providers.
func (s *Server) decide(ctx context.Context, r *authz.Request) authz.Decision {
	return s.noCustom(ctx, s.checker.Check(ctx, r))
}

// noCustom denies a request a CUSTOM rule matched when no provider can be asked here, rather
// than let it through.
func (s *Server) noCustom(ctx context.Context, d authz.Decision) authz.Decision {
	if d.Allowed && d.CustomProvider != "" {
		s.log.WarnContext(ctx, "ext_authz: a CUSTOM policy matched but no provider can be asked here; denied",
			"provider", d.CustomProvider, "policy", d.CustomPolicy)
		return authz.Decision{Status: http.StatusForbidden, Reason: authz.ReasonDenied, Policy: d.CustomPolicy}
	}
	return d
}
