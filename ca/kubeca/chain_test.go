package kubeca

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehouse-dev/gatehouse/ca"
)

// redeemerFunc is a ca.TokenRedeemer that records being asked.
type redeemerFunc struct {
	id    ca.Identity
	err   error
	asked *int
}

func (r redeemerFunc) Redeem(context.Context, string) (ca.Identity, error) {
	*r.asked++
	return r.id, r.err
}

func TestChain(t *testing.T) {
	t.Parallel()
	boot := ca.Identity{TrustDomain: "cluster.local", Namespace: "a", ServiceAccount: "boot"}
	sa := ca.Identity{TrustDomain: "cluster.local", Namespace: "a", ServiceAccount: "sa"}
	refused := errors.New("refused")
	tests := []struct {
		name             string
		token            string
		bootErr, saErr   error
		want             ca.Identity
		wantErr          bool
		wantAskedReviews int
	}{
		{"bootstrap token", "0123456789abcdef", nil, nil, boot, false, 0},
		{"bootstrap token shaped like a JWT", "x.y.z", nil, nil, boot, false, 0},
		{"unknown opaque token stays local", "0123456789abcdef", refused, nil, ca.Identity{}, true, 0},
		{"service-account token", "x.y.z", refused, nil, sa, false, 1},
		{"refused by both", "x.y.z", refused, refused, ca.Identity{}, true, 1},
		{"two parts is no JWT", "x.y", refused, nil, ca.Identity{}, true, 0},
		{"empty part is no JWT", "x..z", refused, nil, ca.Identity{}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var bootAsked, saAsked int
			c := Chain(redeemerFunc{boot, tt.bootErr, &bootAsked}, redeemerFunc{sa, tt.saErr, &saAsked})
			got, err := c.Redeem(context.Background(), tt.token)
			if (err != nil) != tt.wantErr || (err == nil && got != tt.want) {
				t.Errorf("Redeem = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
			if bootAsked != 1 || saAsked != tt.wantAskedReviews {
				t.Errorf("asked bootstrap %d times, TokenReview %d times; want 1 and %d", bootAsked, saAsked, tt.wantAskedReviews)
			}
		})
	}
}
