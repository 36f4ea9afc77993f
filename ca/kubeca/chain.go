package kubeca

import (
	"context"
	"errors"
	"strings"

	"github.com/gatehouse-dev/gatehouse/ca"
)

// Chain redeems a bearer token with the bootstrap tokens first, then, if the token has a JWT's
// shape (three dot-separated parts), with the API server. A bootstrap token is therefore never
// sent to the API server, where audit logs could keep it, and a service-account token never
// spends a bootstrap token's use (bootstrap tokens are looked up by hash: an unknown one spends
// nothing).
func Chain(bootstrap, serviceAccounts ca.TokenRedeemer) ca.TokenRedeemer {
	return chain{bootstrap: bootstrap, serviceAccounts: serviceAccounts}
}

type chain struct{ bootstrap, serviceAccounts ca.TokenRedeemer }

func (c chain) Redeem(ctx context.Context, token string) (ca.Identity, error) {
	id, err := c.bootstrap.Redeem(ctx, token)
	if err == nil || !isJWT(token) {
		return id, err
	}
	id, saErr := c.serviceAccounts.Redeem(ctx, token)
	if saErr != nil {
		return ca.Identity{}, errors.Join(err, saErr)
	}
	return id, nil
}

// isJWT reports whether token has a compact JWS's shape: three non-empty parts.
func isJWT(token string) bool {
	parts := strings.Split(token, ".")
	return len(parts) == 3 && parts[0] != "" && parts[1] != "" && parts[2] != ""
}
