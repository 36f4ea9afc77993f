package kube

import (
	"context"
	"maps"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	dynfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// plural resource names of the fake API server's kinds, as their CRDs would declare them.
var plurals = map[policy.Kind]string{
	policy.KindGateway: "gateways", policy.KindVirtualService: "virtualservices",
	policy.KindDestinationRule: "destinationrules", policy.KindServiceEntry: "serviceentries",
	policy.KindWorkloadEntry: "workloadentries", policy.KindPeerAuthentication: "peerauthentications",
	policy.KindRequestAuthentication: "requestauthentications", policy.KindAuthorizationPolicy: "authorizationpolicies",
	policy.KindSettings: "settings", policy.KindOIDCLogin: "oidclogins", policy.KindACMEIssuer: "acmeissuers",
	policy.KindBootstrapToken: "bootstraptokens",
}

func gvrOf(k policy.Kind) schema.GroupVersionResource {
	for _, wk := range watchedKinds {
		if wk.kind == k {
			return schema.GroupVersionResource{Group: wk.group, Version: wk.versions[0], Resource: plurals[k]}
		}
	}
	panic("unknown kind " + k)
}

// fakeSink records what the source hands the credential store.
type fakeSink struct {
	mu    sync.Mutex
	items map[string]map[string][]byte
	calls int
}

func (f *fakeSink) ReplaceSource(source string, items map[string]map[string][]byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if source != CredentialSource {
		panic("unexpected source " + source)
	}
	f.items = maps.Clone(items)
	f.calls++
}

func (f *fakeSink) get() map[string]map[string][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.items)
}

type env struct {
	t    *testing.T
	ctx  context.Context
	kube *kubefake.Clientset
	dyn  *dynfake.FakeDynamicClient
	sink *fakeSink
	src  *Source
}

// startEnv runs a Source against fake clients holding objs (unstructured objects go to the
// dynamic client, the rest to the typed one) and returns once every informer watches and the
// first rebuild is done.
func startEnv(t *testing.T, tweak func(*Options), objs ...runtime.Object) *env {
	t.Helper()
	var typed, custom []runtime.Object
	for _, o := range objs {
		if _, ok := o.(*unstructured.Unstructured); ok {
			custom = append(custom, o)
		} else {
			typed = append(typed, o)
		}
	}
	listKinds := map[schema.GroupVersionResource]string{}
	var lists []*metav1.APIResourceList
	byGV := map[string]*metav1.APIResourceList{}
	for _, wk := range watchedKinds {
		gvr := gvrOf(wk.kind)
		listKinds[gvr] = string(wk.kind) + "List"
		gv := gvr.GroupVersion().String()
		if byGV[gv] == nil {
			byGV[gv] = &metav1.APIResourceList{GroupVersion: gv}
			lists = append(lists, byGV[gv])
		}
		byGV[gv].APIResources = append(byGV[gv].APIResources,
			metav1.APIResource{Name: gvr.Resource, Kind: string(wk.kind), Namespaced: true},
			metav1.APIResource{Name: gvr.Resource + "/status", Kind: string(wk.kind), Namespaced: true})
	}
	e := &env{t: t, kube: kubefake.NewClientset(typed...), sink: &fakeSink{}}
	e.dyn = dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds)
	e.kube.Resources = lists
	// Through the client rather than the constructor: the tracker would otherwise file objects
	// under a guessed plural ("gatewaies").
	for _, o := range custom {
		u := o.(*unstructured.Unstructured)
		gvr := gvrOf(policy.Kind(u.GetKind()))
		if _, err := e.dyn.Resource(gvr).Namespace(u.GetNamespace()).Create(context.Background(), u, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// Informers list, then watch; fake watches do not replay what happened in between, so the
	// test changes nothing before every watch is in place (client-go's fake-client example).
	watches := make(chan struct{}, 64)
	watchReactor := func(tracker clienttesting.ObjectTracker) clienttesting.WatchReactionFunc {
		return func(action clienttesting.Action) (bool, watch.Interface, error) {
			wa := action.(clienttesting.WatchActionImpl)
			w, err := tracker.Watch(wa.GetResource(), wa.GetNamespace(), wa.ListOptions)
			watches <- struct{}{}
			return true, w, err
		}
	}
	e.kube.PrependWatchReactor("*", watchReactor(e.kube.Tracker()))
	e.dyn.PrependWatchReactor("*", watchReactor(e.dyn.Tracker()))

	opts := Options{Dynamic: e.dyn, Kube: e.kube, Credentials: e.sink, SecretNamespace: "istio-system",
		Load: policy.LoadOptions{FirstSeen: func(string) time.Time { return time.Time{} }}, Debounce: 10 * time.Millisecond}
	if tweak != nil {
		tweak(&opts)
	}
	src, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.src = src
	ctx, cancel := context.WithCancel(context.Background())
	e.ctx = ctx
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	want := len(watchedKinds) + 5 // Services, EndpointSlices, Pods, Secrets, the ConfigMap
	deadline := time.After(20 * time.Second)
	for i := 0; i < want; i++ {
		select {
		case <-watches:
		case <-deadline:
			t.Fatalf("only %d of %d informers watching", i, want)
		}
	}
	e.waitFor("the first rebuild", func(*policy.Snapshot) bool {
		return e.src.rebuildCount() > 0
	})
	return e
}

// waitFor polls, with a deadline, until cond holds for the snapshot in force (nil before one).
func (e *env) waitFor(what string, cond func(*policy.Snapshot) bool) *policy.Snapshot {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		snap := e.src.Current()
		if cond(snap) {
			return snap
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s; problems: %v", what, e.src.Problems())
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline, not waiting out a guess
	}
}

func obj(kind policy.Kind, namespace, name string, spec map[string]any) *unstructured.Unstructured {
	gvr := gvrOf(kind)
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": gvr.GroupVersion().String(), "kind": string(kind),
		"metadata": map[string]any{"name": name, "namespace": namespace},
		"spec":     spec,
	}}
	u.SetUID(types.UID(namespace + "-" + name))
	u.SetGeneration(1)
	return u
}

func (e *env) update(u *unstructured.Unstructured) {
	e.t.Helper()
	u.SetGeneration(u.GetGeneration() + 1)
	gvr := gvrOf(policy.Kind(u.GetKind()))
	if _, err := e.dyn.Resource(gvr).Namespace(u.GetNamespace()).Update(e.ctx, u, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) create(u *unstructured.Unstructured) {
	e.t.Helper()
	gvr := gvrOf(policy.Kind(u.GetKind()))
	if _, err := e.dyn.Resource(gvr).Namespace(u.GetNamespace()).Create(e.ctx, u, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}
