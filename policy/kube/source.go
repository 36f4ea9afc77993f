package kube

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// CredentialSource is the source name the Kubernetes Secrets are stored under in the sink.
const CredentialSource = "kubernetes"

// Options configure a Source.
type Options struct {
	// Dynamic watches the Istio and Gatehouse custom resources.
	Dynamic dynamic.Interface
	// Kube watches Services, EndpointSlices, Pods, Secrets and the MeshConfig ConfigMap, runs
	// discovery, and records Events.
	Kube kubernetes.Interface
	// Load tunes decoding as for a config directory; Load.MeshNamespace is where the `istio`
	// ConfigMap is read.
	Load policy.LoadOptions
	// Credentials receives the selected Secrets; nil drops them.
	Credentials policy.CredentialSink
	// SecretNamespace is the gateway's namespace, the only one whose Secrets are read (default
	// Load.Workload.Namespace, else istio-system).
	SecretNamespace string
	// SecretSelector is a label selector for Secrets of SecretNamespace to hand to Credentials
	// even when nothing refers to them; empty selects none.
	SecretSelector string
	// ServiceAccount is the gateway's service account in SecretNamespace. When set, Secrets are
	// handed to Credentials only while a SubjectAccessReview says it may get Secrets there, as
	// Istio requires of a gateway's credentialName; empty checks nothing (file mode, tests).
	ServiceAccount string
	Logger         *slog.Logger
	// Registerer gets the rebuild metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Debounce is how long the informers must be quiet before a rebuild (default 100ms), so a
	// `kubectl apply` of many objects yields one snapshot.
	Debounce time.Duration
}

// Source watches a Kubernetes API server and publishes a new Snapshot for every accepted change.
// A change that yields errors is logged and recorded as an Event on the object at fault, and the
// last good snapshot keeps serving.
type Source struct {
	opts     Options
	log      *slog.Logger
	selector labels.Selector
	rebuilds *prometheus.CounterVec
	poke     chan struct{}

	mu       sync.Mutex
	current  *policy.Snapshot
	problems policy.Problems
	subs     map[chan *policy.Snapshot]struct{}
	// rebuildsRun counts rebuilds of any result.
	rebuildsRun int

	// Owned by the Run goroutine.
	firstSeen map[string]time.Time
	access    *accessChecker // nil without Options.ServiceAccount
	// last is the input of the last rebuild that was accepted; zero before one.
	last struct {
		accepted    bool
		files       [32]byte // digest of the rendered non-Secret objects
		refs        map[string]bool
		secretNames []string
		digest      [32]byte // of the snapshot in force
	}
	recorded map[string]string // object (uid, else file) -> revision an Event was recorded for
}

// New prepares a Source; Run starts it.
func New(opts Options) (*Source, error) {
	if opts.Dynamic == nil || opts.Kube == nil {
		return nil, fmt.Errorf("kubernetes source: both a dynamic and a typed client are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 100 * time.Millisecond
	}
	if opts.Load.MeshNamespace == "" {
		opts.Load.MeshNamespace = "istio-system"
	}
	if opts.SecretNamespace == "" {
		opts.SecretNamespace = opts.Load.Workload.Namespace
	}
	if opts.SecretNamespace == "" {
		opts.SecretNamespace = policy.DefaultWorkload().Namespace
	}
	s := &Source{
		opts: opts, log: opts.Logger.With("component", "policy", "source", CredentialSource),
		poke:      make(chan struct{}, 1),
		subs:      map[chan *policy.Snapshot]struct{}{},
		firstSeen: map[string]time.Time{},
		recorded:  map[string]string{},
		rebuilds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_kubernetes_config_rebuilds_total",
			Help: "Rebuilds from the Kubernetes API server by result: ok (a new snapshot), unchanged, secrets (credentials only), or failed (rejected; the last good snapshot keeps serving).",
		}, []string{"result"}),
	}
	if opts.SecretSelector != "" {
		sel, err := labels.Parse(opts.SecretSelector)
		if err != nil {
			return nil, fmt.Errorf("kubernetes source: secret selector %q: %w", opts.SecretSelector, err)
		}
		s.selector = sel
	}
	s.access = s.newAccessChecker()
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(s.rebuilds); err != nil {
			return nil, fmt.Errorf("kubernetes source: metrics: %w", err)
		}
	}
	return s, nil
}

// Current returns the snapshot in force, nil before the first good rebuild.
func (s *Source) Current() *policy.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current
}

// Problems returns the problems of the most recent rebuild.
func (s *Source) Problems() policy.Problems {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.problems
}

// Subscribe returns a channel that yields the current snapshot at once (if there is one), then
// every new one. A slow subscriber skips intermediate snapshots but always gets the newest. The
// channel is closed when ctx is done.
func (s *Source) Subscribe(ctx context.Context) <-chan *policy.Snapshot {
	ch := make(chan *policy.Snapshot, 1)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	if s.current != nil {
		ch <- s.current
	}
	s.mu.Unlock()
	context.AfterFunc(ctx, func() {
		s.mu.Lock()
		delete(s.subs, ch)
		close(ch)
		s.mu.Unlock()
	})
	return ch
}

// publish installs snap and hands it to every subscriber.
func (s *Source) publish(snap *policy.Snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current = snap
	for ch := range s.subs {
		select { // replace a snapshot the subscriber has not taken yet
		case <-ch:
		default:
		}
		ch <- snap
	}
}

func (s *Source) version() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current == nil {
		return 0
	}
	return s.current.Version
}

// changed asks for a rebuild after the debounce; informer handlers call it.
func (s *Source) changed() {
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// rebuildCount is how many rebuilds ran, whatever their result; tests wait on it.
func (s *Source) rebuildCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rebuildsRun
}
