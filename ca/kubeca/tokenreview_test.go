package kubeca

import (
	"context"
	"slices"
	"testing"

	authnv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/gatehouse-dev/gatehouse/ca"
)

func TestTokenReviewIdentity(t *testing.T) {
	t.Parallel()
	sa := func(name string) authnv1.UserInfo { return authnv1.UserInfo{Username: name} }
	tests := []struct {
		name    string
		status  authnv1.TokenReviewStatus
		want    ca.Identity
		wantErr bool
	}{
		{"service account", authnv1.TokenReviewStatus{Authenticated: true, Audiences: []string{"istio-ca"}, User: sa("system:serviceaccount:apps:web")},
			ca.Identity{TrustDomain: "cluster.local", Namespace: "apps", ServiceAccount: "web"}, false},
		{"not authenticated", authnv1.TokenReviewStatus{Error: "invalid bearer token"}, ca.Identity{}, true},
		{"audience not confirmed", authnv1.TokenReviewStatus{Authenticated: true, User: sa("system:serviceaccount:apps:web")}, ca.Identity{}, true},
		{"other audience", authnv1.TokenReviewStatus{Authenticated: true, Audiences: []string{"api"}, User: sa("system:serviceaccount:apps:web")}, ca.Identity{}, true},
		{"a user", authnv1.TokenReviewStatus{Authenticated: true, Audiences: []string{"istio-ca"}, User: sa("admin")}, ca.Identity{}, true},
		{"a node", authnv1.TokenReviewStatus{Authenticated: true, Audiences: []string{"istio-ca"}, User: sa("system:node:n1")}, ca.Identity{}, true},
		{"no name", authnv1.TokenReviewStatus{Authenticated: true, Audiences: []string{"istio-ca"}, User: sa("system:serviceaccount:apps:")}, ca.Identity{}, true},
		{"extra segment", authnv1.TokenReviewStatus{Authenticated: true, Audiences: []string{"istio-ca"}, User: sa("system:serviceaccount:apps:web:x")}, ca.Identity{}, true},
	}
	r := NewTokenReviewer(nil, "cluster.local")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := r.identity(tt.status)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("identity() = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestTokenReviewRequest: the review asks for audience istio-ca, as istiod does, and passes
// the token as given.
func TestTokenReviewRequest(t *testing.T) {
	t.Parallel()
	client := fake.NewClientset()
	var asked authnv1.TokenReviewSpec
	client.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		review := a.(k8stesting.CreateAction).GetObject().(*authnv1.TokenReview)
		asked = review.Spec
		out := review.DeepCopy()
		out.Status = authnv1.TokenReviewStatus{Authenticated: true, Audiences: review.Spec.Audiences,
			User: authnv1.UserInfo{Username: "system:serviceaccount:apps:web"}}
		return true, out, nil
	})
	id, err := NewTokenReviewer(client, "example.org").Redeem(context.Background(), "a.b.c")
	if err != nil {
		t.Fatal(err)
	}
	if want := (ca.Identity{TrustDomain: "example.org", Namespace: "apps", ServiceAccount: "web"}); id != want {
		t.Errorf("Redeem = %v, want %v", id, want)
	}
	if asked.Token != "a.b.c" || !slices.Equal(asked.Audiences, []string{"istio-ca"}) {
		t.Errorf("TokenReview spec = %+v, want token a.b.c and audiences [istio-ca]", asked)
	}
}
