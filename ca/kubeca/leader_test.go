package kubeca

import (
	"context"
	"log/slog"
	"testing"

	"k8s.io/client-go/kubernetes/fake"
)

// TestLeaderDo: a lone replica takes the Lease and runs its task with a context that ends
// with the term.
func TestLeaderDo(t *testing.T) {
	t.Parallel()
	l := NewLeader(fake.NewClientset(), "istio-system", slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		_ = l.Run(ctx)
		close(stopped)
	}()
	ran := make(chan context.Context)
	doDone := make(chan struct{})
	go func() {
		l.Do(ctx, func(term context.Context) {
			ran <- term
			<-term.Done()
		})
		close(doDone)
	}()
	term := <-ran
	if !l.Leading() {
		t.Error("Leading() is false during the task")
	}
	cancel()
	<-term.Done()
	<-doDone
	<-stopped
}
