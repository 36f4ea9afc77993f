package kubeca

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/gatehouse-dev/gatehouse/ca"
)

func rootOptions(client kubernetes.Interface, leading bool, data string) RootOptions {
	return RootOptions{Client: client, Namespace: "istio-system", DataDir: data, Leading: func() bool { return leading }}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPrepareRootStoresAndLoads: the leader stores its root in istio-ca-secret; a replica on
// another data dir, leading or not, loads that root, and ca.New signs under it.
func TestPrepareRootStoresAndLoads(t *testing.T) {
	t.Parallel()
	client := fake.NewClientset()
	ctx := context.Background()
	first := t.TempDir()
	if dir, err := PrepareRoot(ctx, rootOptions(client, true, first)); err != nil || dir != "" {
		t.Fatalf("PrepareRoot = %q, %v; want no plug-in dir", dir, err)
	}
	s, err := client.CoreV1().Secrets("istio-system").Get(ctx, CASecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := ca.BootstrapFiles(first)
	if string(s.Data[caCertKey]) != readFile(t, certFile) || string(s.Data[caKeyKey]) != readFile(t, keyFile) || s.Type != caSecretType {
		t.Fatalf("Secret %s is not the leader's bootstrap root (type %s)", CASecret, s.Type)
	}

	second := t.TempDir()
	if _, err := PrepareRoot(ctx, rootOptions(client, false, second)); err != nil {
		t.Fatal(err)
	}
	a, err := ca.New(ca.Options{DataDir: second})
	if err != nil {
		t.Fatal(err)
	}
	if string(a.RootsPEM()) != string(s.Data[caCertKey]) {
		t.Errorf("a replica on a new data dir signs under another root")
	}
	if fi, err := os.Stat(filepath.Join(second, "ca", "root-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, mode %v; want 0600", err, fi.Mode())
	}
}

// TestPrepareRootWaitsForLeader: a replica that does not lead waits for the Secret.
func TestPrepareRootWaitsForLeader(t *testing.T) {
	t.Parallel()
	client := fake.NewClientset()
	ctx := context.Background()
	done := make(chan error)
	data := t.TempDir()
	go func() {
		_, err := PrepareRoot(ctx, rootOptions(client, false, data))
		done <- err
	}()
	leader := fake.NewClientset()
	if _, err := PrepareRoot(ctx, rootOptions(leader, true, t.TempDir())); err != nil {
		t.Fatal(err)
	}
	s, _ := leader.CoreV1().Secrets("istio-system").Get(ctx, CASecret, metav1.GetOptions{})
	if _, err := client.CoreV1().Secrets("istio-system").Create(ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	certFile, _ := ca.BootstrapFiles(data)
	if readFile(t, certFile) != string(s.Data[caCertKey]) {
		t.Errorf("the waiting replica did not load the stored root")
	}
}

// TestPrepareRootPlugin: Secret cacerts wins, written as files for ca's plug-in loader.
func TestPrepareRootPlugin(t *testing.T) {
	t.Parallel()
	client := fake.NewClientset(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: PluginSecret, Namespace: "istio-system"},
		Data: map[string][]byte{"ca-cert.pem": []byte("cert"), "ca-key.pem": []byte("key"), "../escape": []byte("x")}})
	data := t.TempDir()
	dir, err := PrepareRoot(context.Background(), rootOptions(client, true, data))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(data, "cacerts"); dir != want {
		t.Fatalf("plug-in dir %q, want %q", dir, want)
	}
	if readFile(t, filepath.Join(dir, "ca-key.pem")) != "key" || readFile(t, filepath.Join(dir, "ca-cert.pem")) != "cert" {
		t.Errorf("cacerts keys not written as files")
	}
	if _, err := os.Stat(filepath.Join(data, "escape")); err == nil {
		t.Errorf("a key with a path separator was written outside the plug-in dir")
	}
	if _, err := client.CoreV1().Secrets("istio-system").Get(context.Background(), CASecret, metav1.GetOptions{}); err == nil {
		t.Errorf("istio-ca-secret created although a plug-in CA is present")
	}
}

// TestPrepareRootBadSecret: a root Secret without its key is an error, not a new root.
func TestPrepareRootBadSecret(t *testing.T) {
	t.Parallel()
	client := fake.NewClientset(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: CASecret, Namespace: "istio-system"},
		Data: map[string][]byte{"ca-cert.pem": []byte("cert")}})
	if _, err := PrepareRoot(context.Background(), rootOptions(client, true, t.TempDir())); err == nil {
		t.Fatal("PrepareRoot accepted a root Secret without ca-key.pem")
	}
}
