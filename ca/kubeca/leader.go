package kubeca

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// LeaseName is the Lease the CA replicas elect their leader with, in the CA's namespace.
const LeaseName = "gatehouse-ca"

// Lease timings, client-go's usual ones (as kube-controller-manager's): a leader that dies
// is replaced within about 15 s; one that shuts down releases the Lease at once.
const (
	leaseDuration = 15 * time.Second
	renewDeadline = 10 * time.Second
	retryPeriod   = 2 * time.Second
)

// Leader campaigns for Lease gatehouse-ca and runs the cluster-wide singletons (publishing
// the root, creating the CA Secret) only while this replica holds it.
type Leader struct {
	client    kubernetes.Interface
	namespace string
	identity  string
	log       *slog.Logger

	mu   sync.Mutex
	term context.Context // the current term's context while leading; done once it is lost
	next chan struct{}   // closed when a new term starts
}

// NewLeader returns a Leader for the Lease in namespace. Its identity is the host name (the
// pod name in Kubernetes) and a random suffix, so two processes on one host differ.
func NewLeader(client kubernetes.Interface, namespace string, log *slog.Logger) *Leader {
	host, _ := os.Hostname()
	return &Leader{client: client, namespace: namespace, identity: host + "_" + string(uuid.NewUUID()),
		log: log.With("component", "ca-leader", "lease", namespace+"/"+LeaseName), next: make(chan struct{})}
}

// Run campaigns until ctx ends, again after every lost term. The Lease is released when ctx
// ends, so a replacement process leads without waiting for it to expire.
func (l *Leader) Run(ctx context.Context) error {
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: LeaseName, Namespace: l.namespace},
		Client:     l.client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: l.identity},
	}
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   leaseDuration,
		RenewDeadline:   renewDeadline,
		RetryPeriod:     retryPeriod,
		ReleaseOnCancel: true,
		Name:            LeaseName,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: l.started,
			OnStoppedLeading: func() { l.log.Info("ca: not leading") },
		},
	})
	if err != nil {
		return fmt.Errorf("lease %s/%s: %w", l.namespace, LeaseName, err)
	}
	for ctx.Err() == nil {
		le.Run(ctx)
	}
	return nil
}

func (l *Leader) started(term context.Context) {
	l.log.Info("ca: leading", "identity", l.identity)
	l.mu.Lock()
	l.term = term
	close(l.next)
	l.next = make(chan struct{})
	l.mu.Unlock()
}

func (l *Leader) current() (context.Context, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.term, l.next
}

// Leading reports whether this replica holds the Lease now.
func (l *Leader) Leading() bool {
	term, _ := l.current()
	return term != nil && term.Err() == nil
}

// Do runs task during every term this replica leads, with a context that ends with the term,
// until ctx ends. task should return once its context is done.
func (l *Leader) Do(ctx context.Context, task func(context.Context)) {
	for {
		term, next := l.current()
		if term != nil && term.Err() == nil {
			task(term)
			select {
			case <-term.Done():
			case <-ctx.Done():
				return
			}
			continue
		}
		select {
		case <-next:
		case <-ctx.Done():
			return
		}
	}
}
