package kube

import (
	"context"
	"errors"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
)

// TestAccessChecker walks one namespace's cached review through a sequence of API server answers
// on a fake clock: what is reported, whether the API server was asked, and what it was asked.
func TestAccessChecker(t *testing.T) {
	t.Parallel()
	type answer struct {
		allowed bool
		err     error
	}
	type step struct {
		advance     time.Duration
		answer      answer // what the API server says, if asked
		wantAsked   bool
		wantAllowed bool
		wantFresh   bool
		wantErr     bool
	}
	down := errors.New("connection refused")
	tests := []struct {
		name  string
		steps []step
	}{
		{"allowed, cached for a minute, then asked again", []step{
			{answer: answer{allowed: true}, wantAsked: true, wantAllowed: true, wantFresh: true},
			{advance: 30 * time.Second, wantAllowed: true},
			{advance: 31 * time.Second, answer: answer{allowed: true}, wantAsked: true, wantAllowed: true},
		}},
		{"denied, asked again soon, then granted", []step{
			{answer: answer{allowed: false}, wantAsked: true, wantAllowed: false, wantFresh: true},
			{advance: time.Second, wantAllowed: false},
			{advance: accessDeniedTTL, answer: answer{allowed: true}, wantAsked: true, wantAllowed: true, wantFresh: true},
		}},
		{"revoked after the allowed TTL", []step{
			{answer: answer{allowed: true}, wantAsked: true, wantAllowed: true, wantFresh: true},
			{advance: accessAllowedTTL, answer: answer{allowed: false}, wantAsked: true, wantAllowed: false, wantFresh: true},
		}},
		{"API server down before any answer: denied", []step{
			{answer: answer{err: down}, wantAsked: true, wantAllowed: false, wantErr: true},
			{advance: accessDeniedTTL, answer: answer{allowed: true}, wantAsked: true, wantAllowed: true, wantFresh: true},
		}},
		{"API server down after an allow: still allowed", []step{
			{answer: answer{allowed: true}, wantAsked: true, wantAllowed: true, wantFresh: true},
			{advance: accessAllowedTTL, answer: answer{err: down}, wantAsked: true, wantAllowed: true, wantErr: true},
			{advance: time.Second, wantAllowed: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			now := time.Unix(1_700_000_000, 0)
			var asked bool
			var ans answer
			a := &accessChecker{
				saNamespace: "istio-system", saName: "gw-sa",
				now:   func() time.Time { return now },
				cache: map[string]accessResult{},
				review: func(_ context.Context, sar *authorizationv1.SubjectAccessReview) (*authorizationv1.SubjectAccessReview, error) {
					asked = true
					ra := sar.Spec.ResourceAttributes
					if sar.Spec.User != "system:serviceaccount:istio-system:gw-sa" || ra == nil ||
						ra.Namespace != "apps" || ra.Verb != "get" || ra.Resource != "secrets" || ra.Group != "" {
						t.Errorf("review asked %+v %+v", sar.Spec, ra)
					}
					if ans.err != nil {
						return nil, ans.err
					}
					out := sar.DeepCopy()
					out.Status.Allowed = ans.allowed
					return out, nil
				},
			}
			for i, s := range tt.steps {
				now = now.Add(s.advance)
				asked, ans = false, s.answer
				allowed, fresh, err := a.mayReadSecrets(context.Background(), "apps")
				if asked != s.wantAsked || allowed != s.wantAllowed || fresh != s.wantFresh || (err != nil) != s.wantErr {
					t.Errorf("step %d: asked %v allowed %v fresh %v err %v; want asked %v allowed %v fresh %v err %v",
						i, asked, allowed, fresh, err, s.wantAsked, s.wantAllowed, s.wantFresh, s.wantErr)
				}
				if next := a.nextCheck(); !next.After(now) {
					t.Errorf("step %d: next check %v is not after now %v", i, next, now)
				}
			}
		})
	}
}
