package kube

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// Run discovers the served kinds, starts the informers, publishes the first snapshot once they
// have synced, then rebuilds after every quiet period following a change, until ctx is done.
// Informers relist and rewatch by themselves after the API server goes away. Run returns an error
// only when the informers cannot be set up.
func (s *Source) Run(ctx context.Context) error {
	served, err := s.discover(ctx)
	if err != nil || ctx.Err() != nil {
		return err
	}
	c, err := s.startInformers(ctx, served)
	if err != nil {
		return err
	}
	defer c.shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return nil // ctx is done
	}
	s.rebuild(ctx, c)

	timer := time.NewTimer(s.opts.Debounce)
	timer.Stop()
	// recheck fires when a cached SubjectAccessReview expires: RBAC objects are not watched, so
	// a RoleBinding granted or revoked is noticed by asking again.
	recheck := time.NewTimer(time.Hour)
	recheck.Stop()
	s.scheduleRecheck(recheck)
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			recheck.Stop()
			return nil
		case <-s.poke:
			timer.Reset(s.opts.Debounce)
		case <-timer.C:
			s.rebuild(ctx, c)
			s.scheduleRecheck(recheck)
		case <-recheck.C:
			s.rebuild(ctx, c)
			s.scheduleRecheck(recheck)
		}
	}
}

// scheduleRecheck sets t to fire when the earliest cached access review expires.
func (s *Source) scheduleRecheck(t *time.Timer) {
	if s.access == nil {
		return
	}
	if next := s.access.nextCheck(); !next.IsZero() {
		t.Reset(max(time.Until(next), s.opts.Debounce))
	}
}

// discover resolves the watched kinds, retrying while the API server is unreachable.
func (s *Source) discover(ctx context.Context) ([]servedResource, error) {
	backoff := time.Second
	for {
		served, missing, err := discoverResources(ctx, s.opts.Kube.Discovery())
		if err == nil {
			for _, k := range missing {
				s.log.Info("kind not served by the API server (CRD not installed?); not watched", "kind", k)
			}
			for _, r := range served {
				s.log.Debug("watching", "kind", r.kind, "resource", r.gvr.String())
			}
			return served, nil
		}
		s.log.Warn("API discovery failed; retrying", "error", err, "in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil
		case <-t.C:
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// cluster is the informers' view of the API server.
type cluster struct {
	custom      map[policy.Kind]cache.GenericLister
	customGVR   map[policy.Kind]string // apiVersion watched per kind
	services    func() ([]*corev1.Service, error)
	slices      func() ([]*discoveryv1.EndpointSlice, error)
	pod         func(namespace, name string) (podInfo, bool)
	secrets     func() ([]*corev1.Secret, error)
	configMaps  func() ([]*corev1.ConfigMap, error)
	synced      []cache.InformerSynced
	shutdownFns []func()
}

func (c *cluster) shutdown() {
	for _, f := range c.shutdownFns {
		f()
	}
}

// startInformers starts one informer per watched resource. Secrets and the MeshConfig ConfigMap
// are watched in their one namespace only; Pods are cut down to what endpoints use.
func (s *Source) startInformers(ctx context.Context, served []servedResource) (*cluster, error) {
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { s.changed() },
		UpdateFunc: func(any, any) { s.changed() },
		DeleteFunc: func(any) { s.changed() },
	}
	c := &cluster{custom: map[policy.Kind]cache.GenericLister{}, customGVR: map[policy.Kind]string{}}
	add := func(inf cache.SharedIndexInformer, h cache.ResourceEventHandler) error {
		if _, err := inf.AddEventHandler(h); err != nil {
			return fmt.Errorf("kubernetes source: informer: %w", err)
		}
		c.synced = append(c.synced, inf.HasSynced)
		return nil
	}

	dyn := dynamicinformer.NewDynamicSharedInformerFactory(s.opts.Dynamic, 0)
	for _, r := range served {
		gi := dyn.ForResource(r.gvr)
		if err := gi.Informer().SetTransform(dropManagedFields); err != nil {
			return nil, fmt.Errorf("kubernetes source: %s informer: %w", r.gvr, err)
		}
		if err := add(gi.Informer(), handler); err != nil {
			return nil, err
		}
		c.custom[r.kind] = gi.Lister()
		c.customGVR[r.kind] = r.gvr.GroupVersion().String()
	}

	all := informers.NewSharedInformerFactory(s.opts.Kube, 0)
	svc := all.Core().V1().Services()
	eps := all.Discovery().V1().EndpointSlices()
	pods := all.Core().V1().Pods()
	if err := pods.Informer().SetTransform(slimPod); err != nil {
		return nil, fmt.Errorf("kubernetes source: pod informer: %w", err)
	}
	for _, inf := range []cache.SharedIndexInformer{svc.Informer(), eps.Informer()} {
		if err := inf.SetTransform(dropManagedFields); err != nil {
			return nil, fmt.Errorf("kubernetes source: informer: %w", err)
		}
		if err := add(inf, handler); err != nil {
			return nil, err
		}
	}
	// A Pod matters only for its labels and service account: status churn rebuilds nothing.
	podHandler := handler
	podHandler.UpdateFunc = func(oldObj, newObj any) {
		o, ok1 := oldObj.(*corev1.Pod)
		n, ok2 := newObj.(*corev1.Pod)
		if ok1 && ok2 && podInfoEqual(podInfoOf(o), podInfoOf(n)) {
			return
		}
		s.changed()
	}
	if err := add(pods.Informer(), podHandler); err != nil {
		return nil, err
	}
	c.services = func() ([]*corev1.Service, error) { return svc.Lister().List(everything()) }
	c.slices = func() ([]*discoveryv1.EndpointSlice, error) { return eps.Lister().List(everything()) }
	c.pod = func(namespace, name string) (podInfo, bool) {
		p, err := pods.Lister().Pods(namespace).Get(name)
		if err != nil {
			return podInfo{}, false
		}
		return podInfoOf(p), true
	}

	secretNS := informers.NewSharedInformerFactoryWithOptions(s.opts.Kube, 0, informers.WithNamespace(s.opts.SecretNamespace))
	sec := secretNS.Core().V1().Secrets()
	if err := add(sec.Informer(), handler); err != nil {
		return nil, err
	}
	c.secrets = func() ([]*corev1.Secret, error) {
		return sec.Lister().Secrets(s.opts.SecretNamespace).List(everything())
	}

	meshNS := informers.NewSharedInformerFactoryWithOptions(s.opts.Kube, 0,
		informers.WithNamespace(s.opts.Load.MeshNamespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", policy.MeshConfigMapName).String()
		}))
	cms := meshNS.Core().V1().ConfigMaps()
	if err := add(cms.Informer(), handler); err != nil {
		return nil, err
	}
	c.configMaps = func() ([]*corev1.ConfigMap, error) {
		return cms.Lister().ConfigMaps(s.opts.Load.MeshNamespace).List(everything())
	}

	for _, f := range []interface {
		Start(<-chan struct{})
		Shutdown()
	}{dyn, all, secretNS, meshNS} {
		f.Start(ctx.Done())
		c.shutdownFns = append(c.shutdownFns, f.Shutdown)
	}
	return c, nil
}

func podInfoEqual(a, b podInfo) bool {
	if a.serviceAccount != b.serviceAccount || len(a.labels) != len(b.labels) {
		return false
	}
	for k, v := range a.labels {
		if bv, ok := b.labels[k]; !ok || bv != v {
			return false
		}
	}
	return true
}
