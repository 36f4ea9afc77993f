package kube

import (
	"context"
	"crypto/sha256"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// rebuild renders what the informers hold, parses it as policy would a config directory, and
// publishes the result when it is good and differs from the snapshot in force. A change that
// touches only the data of the Secrets already in use skips parsing: a certificate rotation
// reaches the sink at once and recompiles nothing.
func (s *Source) rebuild(ctx context.Context, c *cluster) {
	defer func() {
		s.mu.Lock()
		s.rebuildsRun++
		s.mu.Unlock()
	}()
	files, refs := s.render(c)
	filesDigest := digestFiles(files)
	all, err := c.secrets()
	if err != nil {
		s.log.Error("listing Secrets", "namespace", s.opts.SecretNamespace, "error", err)
	}
	all = s.readableSecrets(ctx, all)
	if s.last.accepted && filesDigest == s.last.files {
		sel := selectSecrets(all, s.last.refs, s.selector)
		if slices.Equal(secretNames(sel), s.last.secretNames) {
			s.sink(sel)
			s.rebuilds.WithLabelValues("secrets").Inc()
			return
		}
	}

	seenNow := map[string]time.Time{}
	now := time.Now()
	opts := s.opts.Load
	opts.FirstSeen = func(key string) time.Time {
		t, ok := s.firstSeen[key]
		if !ok {
			t = now
		}
		seenNow[key] = t
		return t
	}
	cfg := policy.Parse(files, opts)
	var used map[string]bool
	var sel []*corev1.Secret
	if cfg.Problems.Errors() == 0 {
		// Which Secrets count depends on the resources, so they join in a second pass, for the
		// analysis that checks references against them (a missing key, a short token).
		used = secretRefs(cfg.Resources, s.opts.SecretNamespace)
		sel = selectSecrets(all, used, s.selector)
		if len(sel) > 0 {
			withSecrets := maps.Clone(files)
			for _, sec := range sel {
				b, err := renderSecret(sec)
				if err != nil {
					s.log.Error("rendering Secret", "secret", sec.Namespace+"/"+sec.Name, "error", err)
					continue
				}
				f := fileName("Secret", sec.Namespace, sec.Name)
				withSecrets[f] = b
				refs[f] = refOf("v1", "Secret", sec)
			}
			cfg = policy.Parse(withSecrets, opts)
		}
	}

	s.mu.Lock()
	s.problems = cfg.Problems
	s.mu.Unlock()
	s.forgetRecorded(cfg.Problems, refs)
	if n := cfg.Problems.Errors(); n > 0 {
		// The last good config keeps serving, and so do its certificates: a rotation of a Secret
		// it uses still reaches the sink, whatever else was rejected.
		if s.last.digest != ([32]byte{}) {
			s.sink(selectSecrets(all, s.last.refs, s.selector))
		}
		s.last.accepted = false
		s.rebuilds.WithLabelValues("failed").Inc()
		s.recordRejections(ctx, cfg.Problems, refs)
		s.log.Error("config rejected; keeping the last good snapshot", "errors", n, "version", s.version())
		return
	}
	s.firstSeen = seenNow
	s.sink(sel)
	names := secretNames(sel)
	d := digestSnapshot(filesDigest, names)
	prev := s.last.digest
	s.last.accepted, s.last.files, s.last.refs, s.last.secretNames, s.last.digest = true, filesDigest, used, names, d
	if s.Current() != nil && d == prev {
		s.rebuilds.WithLabelValues("unchanged").Inc()
		return
	}
	for _, p := range cfg.Problems {
		s.log.Warn("config warning", "problem", p.String())
	}
	snap := cfg.Snapshot(s.version() + 1)
	s.publish(snap)
	s.rebuilds.WithLabelValues("ok").Inc()
	s.log.Info("config applied", "version", snap.Version, "resources", len(snap.Resources()), "warnings", len(snap.Warnings))
}

// sink hands the selected Secrets to the credential sink.
func (s *Source) sink(sel []*corev1.Secret) {
	if s.opts.Credentials != nil {
		s.opts.Credentials.ReplaceSource(CredentialSource, sinkItems(sel))
	}
}

// render turns every watched object but Secrets into a YAML file named "kube:<Kind>/<ns>/<name>",
// and says which object each file came from.
func (s *Source) render(c *cluster) (map[string][]byte, map[string]objectRef) {
	files := map[string][]byte{}
	refs := map[string]objectRef{}
	put := func(ref objectRef, b []byte, err error) {
		if err != nil {
			s.log.Error("rendering object", "error", err)
			return
		}
		f := fileName(ref.kind, ref.namespace, ref.name)
		files[f] = b
		refs[f] = ref
	}
	for _, kind := range slices.Sorted(maps.Keys(c.custom)) {
		objs, err := c.custom[kind].List(everything())
		if err != nil {
			s.log.Error("listing objects", "kind", kind, "error", err)
			continue
		}
		for _, o := range objs {
			u, ok := o.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			b, err := renderObject(u.GetAPIVersion(), u.GetKind(), u, u.UnstructuredContent())
			put(refOf(u.GetAPIVersion(), u.GetKind(), u), b, err)
		}
	}

	cms, err := c.configMaps()
	if err != nil {
		s.log.Error("listing ConfigMaps", "namespace", s.opts.Load.MeshNamespace, "error", err)
	}
	for _, cm := range cms {
		if cm.Name != policy.MeshConfigMapName {
			continue
		}
		body := map[string]any{}
		if cm.Data != nil {
			body["data"] = cm.Data
		}
		b, err := renderObject("v1", "ConfigMap", cm, body)
		put(refOf("v1", "ConfigMap", cm), b, err)
	}

	svcs, err := c.services()
	if err != nil {
		s.log.Error("listing Services", "error", err)
	}
	eps, err := c.slices()
	if err != nil {
		s.log.Error("listing EndpointSlices", "error", err)
	}
	byService := map[string][]*discoveryv1.EndpointSlice{}
	for _, sl := range eps {
		if n := sl.Labels[discoveryv1.LabelServiceName]; n != "" {
			byService[sl.Namespace+"/"+n] = append(byService[sl.Namespace+"/"+n], sl)
		}
	}
	for _, svc := range svcs {
		body, meta, dropped, ok := serviceEntry(svc, byService[svc.Namespace+"/"+svc.Name], c.pod)
		if !ok {
			continue
		}
		if dropped > 0 {
			s.log.Warn("Service has more ready endpoints than a ServiceEntry holds; the rest are not used",
				"service", svc.Namespace+"/"+svc.Name, "dropped", dropped, "limit", maxEndpoints)
		}
		b, err := renderDoc("networking.istio.io/v1", string(policy.KindServiceEntry), meta, body)
		put(refOf("v1", "Service", svc), b, err)
	}
	return files, refs
}

// digestFiles fingerprints rendered files: equal digests mean policy.Parse would see the same input.
func digestFiles(files map[string][]byte) [32]byte {
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(files)) {
		h.Write([]byte(name))
		h.Write([]byte{0})
		h.Write(files[name])
		h.Write([]byte{0})
	}
	var d [32]byte
	copy(d[:], h.Sum(nil))
	return d
}

// digestSnapshot fingerprints what a snapshot holds: the objects and the names, never the data,
// of the Secrets, so a rotation publishes no new snapshot.
func digestSnapshot(files [32]byte, secretNames []string) [32]byte {
	h := sha256.New()
	h.Write(files[:])
	for _, n := range secretNames {
		h.Write([]byte(n))
		h.Write([]byte{0})
	}
	var d [32]byte
	copy(d[:], h.Sum(nil))
	return d
}
