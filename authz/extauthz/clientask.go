package extauthz

import (
	"context"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse-dev/gatehouse/authz"
)

// CheckRequest returns the CheckRequest Envoy's ext_authz filter would send for r, for callers
// that add to it (a request body) before Ask.
func (c *Client) CheckRequest(r *authz.Request) *authv3.CheckRequest { return c.checkRequest(r) }

// Ask sends cr within the client's timeout and returns the server's answer, or why there is none.
// Unlike Check it applies no failure mode: CUSTOM providers apply their own failOpen and
// statusOnError, and tell an error from a denial.
func (c *Client) Ask(ctx context.Context, cr *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	return c.api.Check(ctx, cr)
}
