package extauthz

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gatehouse-dev/gatehouse/authz"
)

// Defaults of ClientOptions, Envoy's ext_authz filter defaults.
const (
	// DefaultTimeout is the ext_authz grpc_service timeout Envoy applies when none is set.
	DefaultTimeout = 200 * time.Millisecond
	// DefaultStatusOnError is Envoy's status_on_error: 403 Forbidden.
	DefaultStatusOnError = http.StatusForbidden
)

// ClientOptions configure a Client; the zero value behaves as Envoy's ext_authz filter does by
// default (200 ms, fail closed with 403).
type ClientOptions struct {
	// Log receives failed checks at warn level. Nil discards.
	Log *slog.Logger
	// Timeout bounds each check. Default DefaultTimeout.
	Timeout time.Duration
	// FailureModeAllow lets requests through when the server cannot be asked or answers with an
	// error, as Envoy's failure_mode_allow. Default false: they are denied.
	FailureModeAllow bool
	// StatusOnError is the status of such a denial. Default DefaultStatusOnError.
	StatusOnError int
	// ContextExtensions are sent with every check, over the workload keys derived from the
	// request (Envoy's per-route check_settings.context_extensions).
	ContextExtensions map[string]string
	// OmitWorkload leaves the namespace/labels/services keys out, for servers that do not read
	// them; by default they name the request's Workload as a Gatehouse server reads it.
	OmitWorkload bool
	// DialOptions replace the default (plaintext) transport credentials and add others.
	DialOptions []grpc.DialOption
}

// Client is an authz.Checker that asks a remote ext_authz v3 gRPC server (a Gatehouse, OPA-Envoy,
// or any other), mapping Request and Decision as Envoy's ext_authz filter would.
type Client struct {
	conn *grpc.ClientConn
	api  authv3.AuthorizationClient
	opts ClientOptions
	log  *slog.Logger
}

// NewClient returns a Client for target (host:port, or any gRPC target). It connects lazily:
// an unreachable server fails checks, not construction.
func NewClient(target string, opts ClientOptions) (*Client, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.StatusOnError == 0 {
		opts.StatusOnError = DefaultStatusOnError
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dial := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts.DialOptions...)
	conn, err := grpc.NewClient(target, dial...)
	if err != nil {
		return nil, fmt.Errorf("ext_authz client %q: %w", target, err)
	}
	return &Client{conn: conn, api: authv3.NewAuthorizationClient(conn), opts: opts, log: log}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Check asks the server. A transport failure, a timeout or an error_response is handled by the
// failure mode, as Envoy does.
func (c *Client) Check(ctx context.Context, r *authz.Request) authz.Decision {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	resp, err := c.api.Check(ctx, c.checkRequest(r))
	if err != nil {
		return c.failed(ctx, err)
	}
	if e := resp.GetErrorResponse(); e != nil && resp.GetStatus().GetCode() != 0 {
		return c.failed(ctx, fmt.Errorf("error_response: %s", resp.GetStatus().GetMessage()))
	}
	return decision(resp)
}

func (c *Client) failed(ctx context.Context, err error) authz.Decision {
	c.log.WarnContext(ctx, "ext_authz check failed", "target", c.conn.Target(), "failure_mode_allow", c.opts.FailureModeAllow, "error", err)
	if c.opts.FailureModeAllow {
		return authz.Decision{Allowed: true, Status: http.StatusOK}
	}
	return authz.Decision{Status: c.opts.StatusOnError}
}
