package kubeca

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gatehouse-dev/gatehouse/ca"
)

// The CA's Secrets in its namespace, istiod's: cacerts is a plug-in CA an operator provides;
// istio-ca-secret is the self-signed root istiod creates when there is none.
const (
	PluginSecret = "cacerts"
	CASecret     = "istio-ca-secret"
	caCertKey    = "ca-cert.pem"
	caKeyKey     = "ca-key.pem"
	caSecretType = corev1.SecretType("istio.io/ca-root")
	// pluginDir is where the cacerts Secret's keys are written under the data dir, one file
	// each, for ca's plug-in loader and its watch.
	pluginDir = "cacerts"
)

// rootPoll is how often a replica that does not lead looks for the root the leader creates.
const rootPoll = time.Second

// RootOptions configures PrepareRoot.
type RootOptions struct {
	Client      kubernetes.Interface
	Namespace   string // the CA's namespace, holding both Secrets
	DataDir     string // ca.Options.DataDir
	TrustDomain string
	// Leading says whether this replica may create istio-ca-secret now (Leader.Leading).
	Leading func() bool
	Logger  *slog.Logger
}

// PrepareRoot puts the CA's signing material from the cluster where ca.New reads it, so
// package ca needs no Kubernetes code and every replica signs under the same root:
//   - Secret cacerts present: its keys are written to <DataDir>/cacerts, returned as the
//     plug-in dir (istiod's precedence: a plug-in CA wins);
//   - else Secret istio-ca-secret present: it is written over the bootstrap root files
//     (ca.BootstrapFiles), and "" is returned;
//   - else the leader stores the root of DataDir (bootstrapped there now if absent) in
//     istio-ca-secret, create-if-absent; a replica that loses that race, or does not lead,
//     loads what was stored. It blocks until one of these happens or ctx ends; RBAC refusing
//     the Secret is an error at once, since waiting cannot cure it.
func PrepareRoot(ctx context.Context, o RootOptions) (string, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	secrets := o.Client.CoreV1().Secrets(o.Namespace)
	plugin, err := secrets.Get(ctx, PluginSecret, metav1.GetOptions{})
	switch {
	case err == nil:
		dir := filepath.Join(o.DataDir, pluginDir)
		if err := writePlugin(dir, plugin); err != nil {
			return "", err
		}
		o.Logger.Info("ca: plug-in CA from Secret", "secret", o.Namespace+"/"+PluginSecret, "dir", dir)
		return dir, nil
	case !apierrors.IsNotFound(err):
		return "", fmt.Errorf("secret %s/%s: %w", o.Namespace, PluginSecret, err)
	}
	polls := 0
	for {
		polls++
		root, err := secrets.Get(ctx, CASecret, metav1.GetOptions{})
		switch {
		case err == nil:
			return "", writeRoot(o.DataDir, root)
		case apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err):
			return "", fmt.Errorf("secret %s/%s: %w", o.Namespace, CASecret, err)
		case !apierrors.IsNotFound(err):
			o.Logger.Warn("ca: reading the root Secret; retrying", "secret", o.Namespace+"/"+CASecret, "error", err)
		case o.Leading():
			err := storeRoot(ctx, o)
			if err == nil || apierrors.IsAlreadyExists(err) {
				continue // read back what the API server holds
			}
			if apierrors.IsForbidden(err) {
				return "", err
			}
			o.Logger.Warn("ca: storing the root Secret; retrying", "secret", o.Namespace+"/"+CASecret, "error", err)
		case polls == 2:
			// Not on the first miss: a lone replica usually takes the Lease a moment later.
			o.Logger.Info("ca: waiting for the leader to store the root Secret", "secret", o.Namespace+"/"+CASecret, "lease", o.Namespace+"/"+LeaseName)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(rootPoll):
		}
	}
}

// storeRoot creates istio-ca-secret from DataDir's bootstrap root, bootstrapping one first if
// there is none, so a CA that ran before on this data dir keeps its root in the cluster.
func storeRoot(ctx context.Context, o RootOptions) error {
	if _, err := ca.New(ca.Options{DataDir: o.DataDir, TrustDomain: o.TrustDomain, Logger: o.Logger}); err != nil {
		return err
	}
	certFile, keyFile := ca.BootstrapFiles(o.DataDir)
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return err
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return err
	}
	_, err = o.Client.CoreV1().Secrets(o.Namespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: CASecret, Namespace: o.Namespace},
		Type:       caSecretType,
		Data:       map[string][]byte{caCertKey: certPEM, caKeyKey: keyPEM},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("secret %s/%s: create: %w", o.Namespace, CASecret, err)
	}
	o.Logger.Info("ca: root stored in Secret", "secret", o.Namespace+"/"+CASecret, "from", certFile)
	return nil
}

// writeRoot writes istio-ca-secret's root over the bootstrap files, key first, as ca does.
func writeRoot(dataDir string, s *corev1.Secret) error {
	cert, key := s.Data[caCertKey], s.Data[caKeyKey]
	for name, v := range map[string][]byte{caCertKey: cert, caKeyKey: key} {
		if len(v) == 0 {
			return fmt.Errorf("secret %s/%s: data[%s] is missing or empty", s.Namespace, s.Name, name)
		}
	}
	certFile, keyFile := ca.BootstrapFiles(dataDir)
	if err := os.MkdirAll(filepath.Dir(certFile), 0o700); err != nil {
		return fmt.Errorf("secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	if err := writeIfChanged(keyFile, key, 0o600); err != nil {
		return fmt.Errorf("secret %s/%s: data[%s]: %w", s.Namespace, s.Name, caKeyKey, err)
	}
	if err := writeIfChanged(certFile, cert, 0o644); err != nil {
		return fmt.Errorf("secret %s/%s: data[%s]: %w", s.Namespace, s.Name, caCertKey, err)
	}
	return nil
}

// writePlugin writes every key of the cacerts Secret as a file of dir, for ca's plug-in loader,
// which accepts both of Istio's layouts and reports what is missing.
func writePlugin(dir string, s *corev1.Secret) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	for name, v := range s.Data {
		// Keys are file names, as when the Secret is mounted; anything else is not written.
		if name == "" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
			continue
		}
		if err := writeIfChanged(filepath.Join(dir, name), v, 0o600); err != nil {
			return fmt.Errorf("secret %s/%s: data[%s]: %w", s.Namespace, s.Name, name, err)
		}
	}
	return nil
}

// writeIfChanged writes data to name through a synced temporary file renamed into place, so
// ca's loader (and its watch) never sees a partial file; an identical file is left alone.
func writeIfChanged(name string, data []byte, perm os.FileMode) error {
	old, err := os.ReadFile(name)
	if err == nil && bytes.Equal(old, data) {
		return nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // no-op once renamed
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}
