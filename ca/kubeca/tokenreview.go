package kubeca

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gatehouse-dev/gatehouse/ca"
)

// Audience is the audience a service-account token must be issued for, istiod's: istio-agent
// mounts a projected token with it, and a token minted for anything else is refused.
const Audience = "istio-ca"

// serviceAccountPrefix starts the user name the API server gives a service-account token.
const serviceAccountPrefix = "system:serviceaccount:"

// TokenReviewer is a ca.TokenRedeemer for Kubernetes service-account tokens: it asks the API
// server (TokenReview, audience istio-ca) who the token belongs to, as istiod does, so revoked
// tokens and deleted service accounts are refused without Gatehouse holding any signing key.
type TokenReviewer struct {
	client      kubernetes.Interface
	trustDomain string
}

// NewTokenReviewer returns a TokenReviewer issuing identities in trustDomain.
func NewTokenReviewer(client kubernetes.Interface, trustDomain string) *TokenReviewer {
	return &TokenReviewer{client: client, trustDomain: trustDomain}
}

// Redeem implements ca.TokenRedeemer. Only a service account's token is accepted: a user's or
// a node's token authenticates somebody, but no workload.
func (r *TokenReviewer) Redeem(ctx context.Context, token string) (ca.Identity, error) {
	review, err := r.client.AuthenticationV1().TokenReviews().Create(ctx, &authnv1.TokenReview{
		Spec: authnv1.TokenReviewSpec{Token: token, Audiences: []string{Audience}},
	}, metav1.CreateOptions{})
	if err != nil {
		return ca.Identity{}, fmt.Errorf("tokenreview: %w", err)
	}
	return r.identity(review.Status)
}

// identity reads a TokenReview's answer.
func (r *TokenReviewer) identity(st authnv1.TokenReviewStatus) (ca.Identity, error) {
	if !st.Authenticated {
		if st.Error != "" {
			return ca.Identity{}, fmt.Errorf("tokenreview: not authenticated: %s", st.Error)
		}
		return ca.Identity{}, errors.New("tokenreview: not authenticated")
	}
	// The TokenReview API asks clients that set spec.audiences to check status.audiences: an
	// authenticator that ignores audiences would otherwise accept any token of the cluster.
	if !slices.Contains(st.Audiences, Audience) {
		return ca.Identity{}, fmt.Errorf("tokenreview: status.audiences %q lacks %q", st.Audiences, Audience)
	}
	rest, ok := strings.CutPrefix(st.User.Username, serviceAccountPrefix)
	if !ok {
		return ca.Identity{}, fmt.Errorf("tokenreview: user %q is not a service account", st.User.Username)
	}
	ns, sa, ok := strings.Cut(rest, ":")
	if !ok || ns == "" || sa == "" || strings.Contains(sa, ":") {
		return ca.Identity{}, fmt.Errorf("tokenreview: user %q is not system:serviceaccount:<namespace>:<name>", st.User.Username)
	}
	return ca.Identity{TrustDomain: r.trustDomain, Namespace: ns, ServiceAccount: sa}, nil
}

var _ ca.TokenRedeemer = (*TokenReviewer)(nil)
