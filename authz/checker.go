package authz

import "context"

// Checker decides one request. The in-process Engine is one; a client of a remote ext_authz
// service is another, so the gateway asks either the same way.
type Checker interface {
	Check(ctx context.Context, r *Request) Decision
}

var _ Checker = (*Engine)(nil)
