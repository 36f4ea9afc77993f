package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policy/kube"
)

// configSource is where snapshots come from: the config directory's watcher or the Kubernetes
// API server; every component reads either the same way.
type configSource interface {
	Current() *policy.Snapshot
	Subscribe(ctx context.Context) <-chan *policy.Snapshot
	Run(ctx context.Context) error
}

// sourceFlags choose the config source.
type sourceFlags struct {
	config     string
	kubeconfig string
	kubernetes bool
	// gatewayServiceAccount, set by commands that serve credentialName Secrets (not a flag of its
	// own: run's --service-account), must be allowed to get Secrets before they are served.
	gatewayServiceAccount string
}

// kubeMode reports whether the config comes from an API server.
func (f sourceFlags) kubeMode() bool { return f.kubeconfig != "" || f.kubernetes }

// check requires exactly one source.
func (f sourceFlags) check() error {
	switch {
	case f.config == "" && !f.kubeMode():
		return errors.New("give --config DIR, or --kubernetes (in a pod) or --kubeconfig FILE")
	case f.config != "" && f.kubeMode():
		return errors.New("--config and --kubernetes/--kubeconfig are two sources; give one")
	case f.kubeconfig != "" && f.kubernetes:
		return errors.New("--kubernetes uses the pod's service account; --kubeconfig names a file; give one")
	}
	return nil
}

// newSource builds the configured source. credentials, when not nil, receives the Secrets.
func newSource(f sourceFlags, load policy.LoadOptions, credentials policy.CredentialSink, log *slog.Logger, reg prometheus.Registerer) (configSource, error) {
	if !f.kubeMode() {
		opts := policy.WatchOptions{Load: load, Logger: log, Registerer: reg}
		if credentials != nil {
			opts.Credentials = credentials
		}
		return policy.NewWatcher(f.config, opts), nil
	}
	cfg, err := f.restConfig()
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	typed, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	opts := kube.Options{Dynamic: dyn, Kube: typed, Load: load, SecretNamespace: load.Workload.Namespace,
		ServiceAccount: f.gatewayServiceAccount, Logger: log, Registerer: reg}
	if credentials != nil {
		opts.Credentials = credentials
	}
	return kube.New(opts)
}

// restConfig is how to reach the API server: the pod's service account, or the kubeconfig.
func (f sourceFlags) restConfig() (*rest.Config, error) {
	var cfg *rest.Config
	var err error
	if f.kubernetes {
		cfg, err = rest.InClusterConfig()
	} else {
		cfg, err = clientcmd.BuildConfigFromFlags("", f.kubeconfig)
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	return cfg, nil
}
