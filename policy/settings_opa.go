package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DefaultOPAPath is opa-envoy-plugin's default decision path (its `path` setting).
const DefaultOPAPath = "envoy/authz/allow"

// OPASettings is one Settings.opa entry: a MeshConfig extensionProviders name that Gatehouse
// serves in-process with its built-in OPA, and the Rego and data it runs. The entry's failOpen,
// statusOnError and includeRequestBodyInCheck still come from extensionProviders.
type OPASettings struct {
	// Provider is the extensionProviders name that CUSTOM AuthorizationPolicies use.
	Provider string `yaml:"provider" json:"provider"`
	// Path is the decision, slash-separated as opa-envoy-plugin's `path`; DefaultOPAPath when empty.
	Path string `yaml:"path" json:"path"`
	// Dir holds *.rego and data.json/data.yaml/data.yml files (recursive), relative to the
	// directory of the file the Settings is in.
	Dir string `yaml:"dir" json:"dir,omitempty"`
	// Modules are inline Rego modules by file name, as a ConfigMap carries them.
	Modules map[string]string `yaml:"modules" json:"modules,omitempty"`
	// Data is an inline data document, merged at the root of data.
	Data map[string]any `yaml:"data" json:"data,omitempty"`

	// DirPath is Dir resolved against the Settings file's directory: what the watcher watches.
	DirPath string `yaml:"-" json:"dirPath,omitempty"`
	// DirModules and DirData are what Dir held when the config was loaded (Rego sources and raw
	// data files, by path relative to Dir, slash-separated), so a Snapshot is self-contained
	// and compiling it reads no files. A change to them is a change of the snapshot.
	DirModules map[string]string `yaml:"-" json:"dirModules,omitempty"`
	DirData    map[string]string `yaml:"-" json:"dirData,omitempty"`
}

// DataFileNames are the files whose content OPA mounts at their directory's path, as bundles
// and `opa run` do.
var DataFileNames = []string{"data.json", "data.yaml", "data.yml"}

// Bounds on what one OPA directory may hold, so a `dir: /` is an error and not a walk of the
// whole filesystem.
const (
	maxOPAEntries = 10000
	maxOPABytes   = 64 << 20
)

// ReadOPADir reads a policy directory laid out as an OPA bundle: every *.rego file and every data
// file (DataFileNames) under dir, recursively, following symlinks and skipping entries whose
// names start with ".." (Kubernetes ConfigMap mounts). Both maps are keyed by the path relative
// to dir, slash-separated; contents are raw, parsing is the OPA provider's.
func ReadOPADir(dir string) (modules, data map[string]string, err error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, nil, err
	}
	if !info.IsDir() {
		return nil, nil, fmt.Errorf("%s: not a directory", dir)
	}
	modules, data = map[string]string{}, map[string]string{}
	r := opaDirReader{root: dir, modules: modules, data: data}
	if err := r.walk(dir, 0); err != nil {
		return nil, nil, err
	}
	return modules, data, nil
}

type opaDirReader struct {
	root          string
	modules, data map[string]string
	entries       int
	bytes         int64
}

func (r *opaDirReader) walk(dir string, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%s: directories nested deeper than %d (a symlink loop?)", dir, maxDepth)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "..") {
			continue
		}
		if r.entries++; r.entries > maxOPAEntries {
			return fmt.Errorf("%s: more than %d entries", r.root, maxOPAEntries)
		}
		p := filepath.Join(dir, name)
		info, err := os.Stat(p) // follows symlinks, as ConfigMap mounts need
		if errors.Is(err, fs.ErrNotExist) {
			continue // a dangling symlink, e.g. mid-swap
		}
		if err != nil {
			return err
		}
		if info.IsDir() {
			if err := r.walk(p, depth+1); err != nil {
				return err
			}
			continue
		}
		var dst map[string]string
		switch {
		case !info.Mode().IsRegular():
			continue
		case strings.HasSuffix(name, ".rego"):
			dst = r.modules
		case slices.Contains(DataFileNames, name):
			dst = r.data
		default:
			continue
		}
		if r.bytes += info.Size(); r.bytes > maxOPABytes {
			return fmt.Errorf("%s: more than %d bytes of Rego and data", r.root, maxOPABytes)
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(r.root, p)
		if err != nil {
			return err
		}
		dst[filepath.ToSlash(rel)] = string(src)
	}
	return nil
}

// opaPath is a decision path: slash-separated non-empty segments, as opa-envoy-plugin's `path`.
var opaPath = regexp.MustCompile(`^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$`)

// decodeOPA validates spec.opa of a Settings from file and loads each entry's dir. Problems go
// to d with the line of the field concerned.
func decodeOPA(file string, spec *yaml.Node, s *Settings, d *protoDecoder) {
	items := opaItems(spec)
	seen := map[string]int{}
	for i := range s.OPA {
		o := &s.OPA[i]
		var item *yaml.Node
		if i < len(items) {
			item = items[i]
		}
		path := fmt.Sprintf("spec.opa[%d]", i)
		at := func(key string) (*yaml.Node, string) {
			n := itemKey(item, key)
			if n == nil {
				n = item
			}
			if n == nil {
				n = spec
			}
			d.lines[path+"."+key] = n.Line
			return n, path + "." + key
		}
		if item != nil {
			d.lines[path] = item.Line
		}
		switch n, f := at("provider"); {
		case o.Provider == "":
			d.fail(n, f, "required: a MeshConfig extensionProviders name")
		case seen[o.Provider] > 0:
			d.fail(n, f, "%q: must be unique; also spec.opa[%d]", o.Provider, seen[o.Provider]-1)
		default:
			seen[o.Provider] = i + 1
		}
		if o.Path == "" {
			o.Path = DefaultOPAPath
		} else if !opaPath.MatchString(o.Path) {
			n, f := at("path")
			d.fail(n, f, "%q: want a slash-separated decision path such as %s", o.Path, DefaultOPAPath)
		}
		for name := range o.Modules {
			if !strings.HasSuffix(name, ".rego") {
				n, f := at("modules")
				d.fail(n, f+"."+name, "module name %q: must end in .rego", name)
			}
		}
		if o.Data != nil {
			// YAML allows keys that are not strings; OPA's data, as JSON, does not.
			o.Data = jsonCompatible(o.Data).(map[string]any)
		}
		if o.Dir != "" {
			n, f := at("dir")
			o.DirPath = o.Dir
			if !filepath.IsAbs(o.Dir) {
				o.DirPath = filepath.Join(filepath.Dir(file), o.Dir)
			}
			mods, data, err := ReadOPADir(o.DirPath)
			if err != nil {
				d.fail(n, f, "%q: %v", o.Dir, unwrapPathError(err))
				continue
			}
			for name := range mods {
				if _, dup := o.Modules[name]; dup {
					d.fail(n, f, "%q: module %s is also in modules", o.Dir, name)
				}
			}
			o.DirModules, o.DirData = mods, data
		}
		if len(o.Modules)+len(o.DirModules) == 0 {
			n, f := at("modules")
			if o.Dir != "" {
				n, f = at("dir")
			}
			d.fail(n, f, "no Rego modules: give dir with *.rego files, or modules")
		}
	}
}

// unwrapPathError drops the "stat <path>:" prefix when the message already names the path.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// opaItems returns the nodes of spec.opa's entries.
func opaItems(spec *yaml.Node) []*yaml.Node {
	if _, l := mappingEntry(spec, "opa"); l != nil && l.Kind == yaml.SequenceNode {
		out := make([]*yaml.Node, len(l.Content))
		for i, c := range l.Content {
			out[i] = resolve(c)
		}
		return out
	}
	return nil
}

// itemKey returns the key node of key in mapping n (its line is the field's), or nil.
func itemKey(n *yaml.Node, key string) *yaml.Node {
	k, _ := mappingEntry(n, key)
	return k
}

// mappingEntry returns the key and value nodes of key in mapping n, or nils.
func mappingEntry(n *yaml.Node, key string) (k, v *yaml.Node) {
	if n == nil {
		return nil, nil
	}
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if resolve(n.Content[i]).Value == key {
			return resolve(n.Content[i]), resolve(n.Content[i+1])
		}
	}
	return nil, nil
}

// opaProviderWarnings warns about Settings.opa entries that name no ext_authz entry of the
// MeshConfig in force: no CUSTOM rule can reach them.
func opaProviderWarnings(c *Config) Problems {
	if c.Settings == nil || len(c.Settings.OPA) == 0 {
		return nil
	}
	var r *Resource
	for _, res := range c.Resources {
		if res.Kind == KindSettings && res.Spec == c.Settings {
			r = res
		}
	}
	if r == nil {
		return nil
	}
	authzNames := map[string]bool{}
	for _, ep := range c.Mesh.GetExtensionProviders() {
		if ep.GetEnvoyExtAuthzGrpc() != nil || ep.GetEnvoyExtAuthzHttp() != nil {
			authzNames[ep.GetName()] = true
		}
	}
	var out Problems
	for i, o := range c.Settings.OPA {
		if !authzNames[o.Provider] {
			out = append(out, problemAt(Warning, r, fmt.Sprintf("spec.opa[%d].provider", i),
				fmt.Sprintf("%q names no envoyExtAuthzGrpc or envoyExtAuthzHttp entry of MeshConfig extensionProviders; not served", o.Provider)))
		}
	}
	return out
}

// opaDirs lists the Settings.opa directories the config read, sorted, for the watcher.
func (c *Config) opaDirs() []string {
	if c.Settings == nil {
		return nil
	}
	var out []string
	for _, o := range c.Settings.OPA {
		if o.DirPath != "" && !slices.Contains(out, o.DirPath) {
			out = append(out, o.DirPath)
		}
	}
	slices.Sort(out)
	return out
}
