package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	meshconfig "istio.io/api/mesh/v1alpha1"

	"github.com/gatehouse-dev/gatehouse/policy/validation"
)

// LoadOptions tune loading; the zero value is usable.
type LoadOptions struct {
	// FirstSeen returns when a resource key ("Kind/ns/name") was first seen; it orders resources
	// without metadata.creationTimestamp. Nil means "now" for every resource.
	FirstSeen func(key string) time.Time
	// MeshNamespace is where the `istio` ConfigMap is read from (istiod's namespace).
	// Default istio-system.
	MeshNamespace string
	// Workload is the gateway workload that cross-resource analysis checks selectors against.
	Workload Workload
}

// Workload identifies the gateway this process is: Gateways select it by labels, and
// credentialName Secrets live in its namespace.
type Workload struct {
	Namespace string
	Labels    map[string]string
}

// DefaultWorkload is Istio's default ingress gateway: istio=ingressgateway in istio-system.
func DefaultWorkload() Workload {
	return Workload{Namespace: "istio-system", Labels: map[string]string{"istio": "ingressgateway"}}
}

func (o LoadOptions) withDefaults() LoadOptions {
	if o.FirstSeen == nil {
		now := time.Now()
		o.FirstSeen = func(string) time.Time { return now }
	}
	if o.MeshNamespace == "" {
		o.MeshNamespace = "istio-system"
	}
	if o.Workload.Namespace == "" {
		o.Workload.Namespace = DefaultWorkload().Namespace
	}
	if o.Workload.Labels == nil {
		o.Workload.Labels = DefaultWorkload().Labels
	}
	return o
}

// Config is what a load produced: the decoded resources, the Secrets for the credential store, and
// every problem found. It becomes a Snapshot only when Problems has no errors.
type Config struct {
	Resources []*Resource
	Mesh      *meshconfig.MeshConfig
	Settings  *Settings
	Secrets   []Secret
	Problems  Problems
}

// Snapshot builds the snapshot for a config without errors; it returns nil when there are errors.
func (c *Config) Snapshot(version uint64) *Snapshot {
	if c.Problems.Errors() > 0 {
		return nil
	}
	creds := make([]string, 0, len(c.Secrets))
	for _, s := range c.Secrets {
		creds = append(creds, s.Namespace+"/"+s.Name)
	}
	var warnings Problems
	for _, p := range c.Problems {
		if p.Severity == Warning {
			warnings = append(warnings, p)
		}
	}
	return NewSnapshot(version, c.Resources, c.Mesh, c.Settings, creds, warnings)
}

// ParseSnapshot decodes, validates and analyses in-memory files (name -> YAML) into a snapshot of
// version 1; the snapshot is nil when any problem is an error. Tests and fuzzing use it.
func ParseSnapshot(files map[string][]byte) (*Snapshot, Problems) {
	c := Parse(files, LoadOptions{FirstSeen: func(string) time.Time { return time.Time{} }})
	return c.Snapshot(1), c.Problems
}

// Parse decodes, validates and analyses in-memory files, in name order.
func Parse(files map[string][]byte, opts LoadOptions) *Config {
	opts = opts.withDefaults()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	var all []*decoded
	for _, n := range names {
		all = append(all, decodeFile(n, files[n], opts.FirstSeen))
	}
	return assemble(all, opts)
}

// LoadDir reads every *.yaml and *.yml under dir, recursively, following symlinks and skipping
// entries whose names start with ".." (the bookkeeping of Kubernetes ConfigMap mounts) and the
// data.yaml/data.yml of a directory holding Rego (an OPA data document). The error is
// for a directory that cannot be read at all; problems in files are in Config.Problems.
func LoadDir(dir string, opts LoadOptions) (*Config, error) {
	opts = opts.withDefaults()
	files, err := ConfigFiles(dir)
	if err != nil {
		return nil, err
	}
	var all []*decoded
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			all = append(all, &decoded{problems: Problems{{Origin: Origin{File: f}, Reason: fmt.Sprintf("cannot read: %v", errors.Unwrap(err))}}})
			continue
		}
		all = append(all, decodeFile(f, data, opts.FirstSeen))
	}
	return assemble(all, opts), nil
}

// ConfigFiles lists the config files under dir in a stable order.
func ConfigFiles(dir string) ([]string, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("config directory: %w", err)
	}
	var files []string
	err := walk(dir, 0, false, func(p string) { files = append(files, p) })
	slices.Sort(files)
	return files, err
}

const maxDepth = 32

// walk visits the config files under dir. Below a directory holding Rego (inRego), data.yaml and
// data.yml are OPA data documents of a Settings opa dir, not Kubernetes YAML.
func walk(dir string, depth int, inRego bool, visit func(string)) error {
	if depth > maxDepth {
		return fmt.Errorf("%s: directories nested deeper than %d (a symlink loop?)", dir, maxDepth)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("config directory: %w", err)
	}
	inRego = inRego || slices.ContainsFunc(entries, func(e fs.DirEntry) bool { return filepath.Ext(e.Name()) == ".rego" })
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "..") || strings.HasPrefix(name, ".#") {
			continue
		}
		if inRego && (name == "data.yaml" || name == "data.yml") {
			continue
		}
		p := filepath.Join(dir, name)
		info, err := os.Stat(p) // follows symlinks, as ConfigMap mounts need
		if errors.Is(err, fs.ErrNotExist) {
			continue // a dangling symlink, e.g. mid-swap
		}
		if err != nil {
			return fmt.Errorf("config directory: %w", err)
		}
		if info.IsDir() {
			if err := walk(p, depth+1, inRego, visit); err != nil {
				return err
			}
			continue
		}
		if ext := filepath.Ext(name); info.Mode().IsRegular() && (ext == ".yaml" || ext == ".yml") {
			visit(p)
		}
	}
	return nil
}

// assemble joins what every file yielded: duplicates, per-resource validation, the mesh and
// settings in force, then cross-resource analysis.
func assemble(files []*decoded, opts LoadOptions) *Config {
	c := &Config{}
	var meshes []*Resource
	seen := map[string]*Resource{}
	seenSecrets := map[string]Origin{}
	for _, f := range files {
		c.Problems = append(c.Problems, f.problems...)
		for _, r := range f.resources {
			if prev, dup := seen[r.Key()]; dup {
				c.Problems = append(c.Problems, Problem{Origin: r.Origin, Resource: r.Key(), Reason: "defined twice; first at " + prev.Origin.String()})
				continue
			}
			seen[r.Key()] = r
			c.Resources = append(c.Resources, r)
		}
		for _, s := range f.secrets {
			key := s.Namespace + "/" + s.Name
			if prev, dup := seenSecrets[key]; dup {
				c.Problems = append(c.Problems, Problem{Origin: s.Origin, Resource: "Secret/" + key, Reason: "defined twice; first at " + prev.String()})
				continue
			}
			seenSecrets[key] = s.Origin
			c.Secrets = append(c.Secrets, s)
		}
		meshes = append(meshes, f.meshes...)
	}
	for _, r := range c.Resources {
		c.Problems = append(c.Problems, validate(r)...)
	}
	c.Mesh = pickMesh(meshes, opts.MeshNamespace, &c.Problems)
	c.Settings = pickSettings(c.Resources, &c.Problems)
	c.Problems = append(c.Problems, opaProviderWarnings(c)...)
	if c.Problems.Errors() == 0 {
		c.Problems = append(c.Problems, analyze(c, opts.Workload)...)
	}
	c.Problems.Sort()
	return c
}

// validate runs Istio's semantic checks on one resource.
func validate(r *Resource) Problems {
	spec, ok := r.Spec.(proto.Message)
	if !ok {
		return nil
	}
	var out Problems
	meta := validation.Meta{Name: r.Name, Namespace: r.Namespace, Labels: r.Labels, Annotations: r.Annotations}
	for _, f := range validation.Validate(meta, spec) {
		sev := Error
		if f.Severity == validation.Warning {
			sev = Warning
		}
		out = append(out, problemAt(sev, r, f.Field, f.Reason))
	}
	return out
}

// pickMesh returns the MeshConfig from the `istio` ConfigMap in the mesh namespace over Istio's
// defaults.
func pickMesh(meshes []*Resource, namespace string, problems *Problems) *meshconfig.MeshConfig {
	mc := DefaultMeshConfig()
	var found *Resource
	for _, r := range meshes {
		if r.Namespace != namespace {
			*problems = append(*problems, Problem{Severity: Warning, Origin: r.Origin, Resource: r.Key(),
				Reason: fmt.Sprintf("MeshConfig is read from ConfigMap %s/%s only; ignored", namespace, MeshConfigMapName)})
			continue
		}
		if found != nil {
			*problems = append(*problems, Problem{Origin: r.Origin, Resource: r.Key(), Reason: "defined twice; first at " + found.Origin.String()})
			continue
		}
		found = r
	}
	if found == nil {
		return mc
	}
	user := found.Spec.(*meshconfig.MeshConfig)
	for _, f := range validation.Validate(validation.Meta{Name: found.Name, Namespace: found.Namespace}, user) {
		sev := Error
		if f.Severity == validation.Warning {
			sev = Warning
		}
		field := f.Field
		if !strings.HasPrefix(field, "data.mesh") {
			field = strings.TrimPrefix("data.mesh."+field, ".")
		}
		*problems = append(*problems, problemAt(sev, found, field, f.Reason))
	}
	proto.Merge(mc, user)
	// proto.Merge appends repeated fields; the user's export defaults replace Istio's.
	if len(user.GetDefaultServiceExportTo()) > 0 {
		mc.DefaultServiceExportTo = user.GetDefaultServiceExportTo()
	}
	if len(user.GetDefaultVirtualServiceExportTo()) > 0 {
		mc.DefaultVirtualServiceExportTo = user.GetDefaultVirtualServiceExportTo()
	}
	if len(user.GetDefaultDestinationRuleExportTo()) > 0 {
		mc.DefaultDestinationRuleExportTo = user.GetDefaultDestinationRuleExportTo()
	}
	return mc
}

// pickSettings returns the oldest Settings resource's spec; more than one is a warning.
func pickSettings(rs []*Resource, problems *Problems) *Settings {
	var all []*Resource
	for _, r := range rs {
		if r.Kind == KindSettings && r.Spec != nil {
			all = append(all, r)
		}
	}
	if len(all) == 0 {
		return DefaultSettings()
	}
	SortOldestFirst(all)
	for _, r := range all[1:] {
		*problems = append(*problems, Problem{Severity: Warning, Origin: r.Origin, Resource: r.Key(),
			Reason: "more than one Settings resource; the oldest, " + all[0].Key() + ", is in force"})
	}
	return all[0].Spec.(*Settings)
}
