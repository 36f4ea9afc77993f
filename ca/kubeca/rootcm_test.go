package kubeca

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
)

// fakeBundle is a trust bundle the test changes.
type fakeBundle struct {
	mu      sync.Mutex
	pem     string
	changed chan struct{}
}

func newFakeBundle(pem string) *fakeBundle {
	return &fakeBundle{pem: pem, changed: make(chan struct{})}
}

func (b *fakeBundle) RootsPEM() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return []byte(b.pem)
}

func (b *fakeBundle) Changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.changed
}

func (b *fakeBundle) set(pem string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pem = pem
	close(b.changed)
	b.changed = make(chan struct{})
}

func namespace(name string, phase corev1.NamespacePhase) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NamespaceStatus{Phase: phase}}
}

// waitRoot polls ns's root ConfigMap until it holds want, or fails after a deadline.
func waitRoot(t *testing.T, client kubernetes.Interface, ns, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		cm, err := client.CoreV1().ConfigMaps(ns).Get(context.Background(), RootConfigMap, metav1.GetOptions{})
		if err == nil {
			if got = cm.Data[RootKey]; got == want {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("namespace %s: root ConfigMap holds %q, want %q", ns, got, want)
}

// TestRootPublisher: every namespace gets the root, except the system ones and a terminating
// one; a new namespace, an edited or deleted ConfigMap and a changed bundle are followed.
func TestRootPublisher(t *testing.T) {
	t.Parallel()
	client := fake.NewClientset(namespace("apps", corev1.NamespaceActive), namespace("kube-system", corev1.NamespaceActive),
		namespace("leaving", corev1.NamespaceTerminating),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: RootConfigMap, Namespace: "apps"}, Data: map[string]string{RootKey: "stale"}})
	bundle := newFakeBundle("root-1")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- NewRootPublisher(client, bundle, slog.New(slog.DiscardHandler)).Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	bg := context.Background()

	waitRoot(t, client, "apps", "root-1")
	if _, err := client.CoreV1().Namespaces().Create(bg, namespace("fresh", corev1.NamespaceActive), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRoot(t, client, "fresh", "root-1")

	cm, _ := client.CoreV1().ConfigMaps("fresh").Get(bg, RootConfigMap, metav1.GetOptions{})
	if cm.Labels["istio.io/config"] != "true" {
		t.Errorf("labels %v, want istio.io/config=true as istiod sets", cm.Labels)
	}
	cm.Data[RootKey] = "edited"
	if _, err := client.CoreV1().ConfigMaps("fresh").Update(bg, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRoot(t, client, "fresh", "root-1")
	if err := client.CoreV1().ConfigMaps("apps").Delete(bg, RootConfigMap, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRoot(t, client, "apps", "root-1")

	bundle.set("root-2")
	waitRoot(t, client, "apps", "root-2")
	waitRoot(t, client, "fresh", "root-2")

	for _, ns := range []string{"kube-system", "leaving"} {
		if _, err := client.CoreV1().ConfigMaps(ns).Get(bg, RootConfigMap, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("namespace %s: root ConfigMap: %v, want none", ns, err)
		}
	}
}
