package kube

import (
	"context"
	"fmt"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Istio's gateway serves a credentialName only when its own service account may read the
// Secrets of that namespace, which istiod checks with a SubjectAccessReview and caches. Gatehouse
// reads Secrets with whatever credentials its kubeconfig carries (often broader than the
// gateway's), so the review is what keeps a gateway from serving keys it should not see.
const (
	// accessAllowedTTL is how long an allowed review is trusted; a revoked RoleBinding takes
	// effect within it. Istio caches its authorization results for a minute as well.
	accessAllowedTTL = time.Minute
	// accessDeniedTTL is how long a denial (or a failed review) stands before it is asked again,
	// so a RoleBinding created to fix it is noticed soon: nothing watches RBAC objects.
	accessDeniedTTL = 5 * time.Second
)

// accessResult is one cached review.
type accessResult struct {
	allowed bool
	until   time.Time
}

// accessChecker asks the API server whether the gateway's service account may get Secrets in a
// namespace, and caches the answer per namespace. Owned by the Run goroutine: no locking.
type accessChecker struct {
	// review creates a SubjectAccessReview; the typed client's in production.
	review func(ctx context.Context, sar *authorizationv1.SubjectAccessReview) (*authorizationv1.SubjectAccessReview, error)
	// namespace and name of the service account reviewed.
	saNamespace, saName string
	now                 func() time.Time
	cache               map[string]accessResult
}

// user is the name the API server authenticates the service account's tokens as.
func (a *accessChecker) user() string {
	return "system:serviceaccount:" + a.saNamespace + ":" + a.saName
}

// mayReadSecrets reports whether the service account may get Secrets in namespace, and whether
// the answer is fresh from the API server (so callers log a change once, not on every rebuild).
// A failed review keeps the last answer for accessDeniedTTL, or denies when there is none: a
// passing API server outage does not take credentials away, and none is served unchecked.
func (a *accessChecker) mayReadSecrets(ctx context.Context, namespace string) (allowed, fresh bool, err error) {
	now := a.now()
	prev, ok := a.cache[namespace]
	if ok && now.Before(prev.until) {
		return prev.allowed, false, nil
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: a.user(),
		// The groups the API server gives a service account's token, so RBAC bindings to them
		// count as they would for the gateway's own requests.
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + a.saNamespace, "system:authenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: namespace, Verb: "get", Resource: "secrets",
		},
	}}
	got, err := a.review(ctx, sar)
	if err != nil {
		a.cache[namespace] = accessResult{allowed: ok && prev.allowed, until: now.Add(accessDeniedTTL)}
		return ok && prev.allowed, false, fmt.Errorf("SubjectAccessReview for %s (get secrets in %s): %w", a.user(), namespace, err)
	}
	res := accessResult{allowed: got.Status.Allowed && !got.Status.Denied, until: now.Add(accessDeniedTTL)}
	if res.allowed {
		res.until = now.Add(accessAllowedTTL)
	}
	a.cache[namespace] = res
	return res.allowed, !ok || prev.allowed != res.allowed, nil
}

// nextCheck is when the earliest cached answer expires; zero with none cached.
func (a *accessChecker) nextCheck() time.Time {
	var next time.Time
	for _, r := range a.cache {
		if next.IsZero() || r.until.Before(next) {
			next = r.until
		}
	}
	return next
}

// newAccessChecker reviews with the source's typed client; nil when no service account is set.
func (s *Source) newAccessChecker() *accessChecker {
	if s.opts.ServiceAccount == "" {
		return nil
	}
	return &accessChecker{
		review: func(ctx context.Context, sar *authorizationv1.SubjectAccessReview) (*authorizationv1.SubjectAccessReview, error) {
			return s.opts.Kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
		},
		saNamespace: s.opts.SecretNamespace,
		saName:      s.opts.ServiceAccount,
		now:         time.Now,
		cache:       map[string]accessResult{},
	}
}

// readableSecrets returns the namespace's Secrets when the gateway's service account may read
// them, else none, logging the refusal when it is new.
func (s *Source) readableSecrets(ctx context.Context, all []*corev1.Secret) []*corev1.Secret {
	if s.access == nil || len(all) == 0 {
		return all
	}
	ns := s.opts.SecretNamespace
	allowed, fresh, err := s.access.mayReadSecrets(ctx, ns)
	if err != nil {
		s.log.Error("checking the gateway's access to Secrets", "error", err)
	}
	if !allowed {
		if fresh || err != nil {
			s.log.Error("credentials refused: the gateway's service account may not get Secrets in this namespace (as Istio requires); bind it to a Role that allows it",
				"namespace", ns, "user", s.access.user(), "secrets", len(all))
		}
		return nil
	}
	if fresh {
		s.log.Info("the gateway's service account may get Secrets", "namespace", ns, "user", s.access.user())
	}
	return all
}
