package kubeca

import (
	"context"
	"fmt"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// The root ConfigMap istiod publishes in every namespace, which istio-agent mounts to verify
// the CA it dials.
const (
	RootConfigMap = "istio-ca-root-cert"
	RootKey       = "root-cert.pem"
)

// ignoredNamespaces get no root ConfigMap, as istiod skips them (Istio's injection-ignored
// system namespaces): no workload there is in the mesh.
var ignoredNamespaces = map[string]bool{"kube-system": true, "kube-public": true, "kube-node-lease": true, "local-path-storage": true}

// Bundle is the trust bundle to publish: ca.Authority.
type Bundle interface {
	RootsPEM() []byte
	Changed() <-chan struct{}
}

// RootPublisher keeps ConfigMap istio-ca-root-cert (key root-cert.pem) equal to the CA's trust
// bundle in every namespace: a new namespace gets it, an edited or deleted one is repaired, and
// a changed bundle is written everywhere. Only the leader should run it.
type RootPublisher struct {
	client kubernetes.Interface
	bundle Bundle
	log    *slog.Logger
}

// NewRootPublisher returns a publisher of bundle.
func NewRootPublisher(client kubernetes.Interface, bundle Bundle, log *slog.Logger) *RootPublisher {
	return &RootPublisher{client: client, bundle: bundle, log: log.With("component", "ca-root-publisher")}
}

// Run publishes until ctx ends.
func (p *RootPublisher) Run(ctx context.Context) error {
	nsFactory := informers.NewSharedInformerFactory(p.client, 0)
	// Only the one ConfigMap name is watched: every ConfigMap of the cluster would be far more.
	cmFactory := informers.NewSharedInformerFactoryWithOptions(p.client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("metadata.name", RootConfigMap).String()
	}))
	nsInformer := nsFactory.Core().V1().Namespaces()
	cmInformer := cmFactory.Core().V1().ConfigMaps()
	queue := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	defer queue.ShutDown()

	enqueueNS := func(obj any) {
		if ns, ok := obj.(*corev1.Namespace); ok {
			queue.Add(ns.Name)
		}
	}
	enqueueCM := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if cm, ok := obj.(*corev1.ConfigMap); ok {
			queue.Add(cm.Namespace)
		}
	}
	if _, err := nsInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueueNS, UpdateFunc: func(_, obj any) { enqueueNS(obj) },
	}); err != nil {
		return fmt.Errorf("root publisher: namespaces: %w", err)
	}
	if _, err := cmInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueueCM, UpdateFunc: func(_, obj any) { enqueueCM(obj) }, DeleteFunc: enqueueCM,
	}); err != nil {
		return fmt.Errorf("root publisher: configmaps: %w", err)
	}
	nsLister, cmLister := nsInformer.Lister(), cmInformer.Lister()
	nsFactory.Start(ctx.Done())
	cmFactory.Start(ctx.Done())
	defer nsFactory.Shutdown()
	defer cmFactory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), nsInformer.Informer().HasSynced, cmInformer.Informer().HasSynced) {
		return nil // ctx ended
	}
	go p.followBundle(ctx, nsLister, queue)
	go func() {
		<-ctx.Done()
		queue.ShutDown()
	}()
	for {
		ns, quit := queue.Get()
		if quit {
			return nil
		}
		if err := p.reconcile(ctx, nsLister, cmLister, ns); err != nil {
			p.log.Warn("root ConfigMap not published; retrying", "namespace", ns, "error", err)
			queue.AddRateLimited(ns)
		} else {
			queue.Forget(ns)
		}
		queue.Done(ns)
	}
}

// followBundle queues every namespace whenever the CA's trust bundle changes.
func (p *RootPublisher) followBundle(ctx context.Context, nsLister corelisters.NamespaceLister, queue workqueue.TypedRateLimitingInterface[string]) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.bundle.Changed():
		}
		all, err := nsLister.List(labels.Everything())
		if err != nil {
			continue
		}
		for _, ns := range all {
			queue.Add(ns.Name)
		}
	}
}

// reconcile creates or updates the root ConfigMap of namespace ns.
func (p *RootPublisher) reconcile(ctx context.Context, nsLister corelisters.NamespaceLister, cmLister corelisters.ConfigMapLister, ns string) error {
	namespace, err := nsLister.Get(ns)
	if apierrors.IsNotFound(err) || ignoredNamespaces[ns] {
		return nil
	}
	if err != nil {
		return err
	}
	// A terminating namespace refuses new objects, and nothing there will start again.
	if namespace.Status.Phase == corev1.NamespaceTerminating || namespace.DeletionTimestamp != nil {
		return nil
	}
	root := string(p.bundle.RootsPEM())
	cm, err := cmLister.ConfigMaps(ns).Get(RootConfigMap)
	switch {
	case apierrors.IsNotFound(err):
		_, err = p.client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: RootConfigMap, Namespace: ns, Labels: map[string]string{"istio.io/config": "true"}},
			Data:       map[string]string{RootKey: root},
		}, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("configmap %s/%s: create: %w", ns, RootConfigMap, err)
		}
		p.log.Info("root ConfigMap created", "namespace", ns)
		return nil
	case err != nil:
		return err
	case cm.Data[RootKey] == root:
		return nil
	}
	cm = cm.DeepCopy()
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[RootKey] = root
	if _, err := p.client.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("configmap %s/%s: update %s: %w", ns, RootConfigMap, RootKey, err)
	}
	p.log.Info("root ConfigMap updated", "namespace", ns)
	return nil
}
