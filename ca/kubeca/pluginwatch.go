package kubeca

import (
	"context"
	"log/slog"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// FollowPlugin keeps <dataDir>/cacerts equal to Secret cacerts until ctx ends, so an operator
// rotating the plug-in CA with kubectl reaches ca's plug-in watch, which validates the files
// and keeps the last good CA on a bad one. Every replica runs it: each signs with its own copy.
func FollowPlugin(ctx context.Context, client kubernetes.Interface, namespace, dataDir string, log *slog.Logger) {
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", PluginSecret).String()
		}))
	dir := filepath.Join(dataDir, pluginDir)
	write := func(obj any) {
		s, ok := obj.(*corev1.Secret)
		if !ok {
			return
		}
		if err := writePlugin(dir, s); err != nil {
			log.Error("ca: plug-in CA Secret not written; the current CA keeps signing", "error", err)
		}
	}
	_, _ = factory.Core().V1().Secrets().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: write, UpdateFunc: func(_, obj any) { write(obj) },
	})
	factory.Start(ctx.Done())
	<-ctx.Done()
	factory.Shutdown()
}
