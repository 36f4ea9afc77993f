package policy

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
	meshconfig "istio.io/api/mesh/v1alpha1"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
)

// Secret is a Kubernetes Secret as read from a file. Its data goes to the credential store only;
// a Snapshot carries the names alone.
type Secret struct {
	Namespace string
	Name      string
	Type      string
	Data      map[string][]byte
	Origin    Origin
}

// decoded is everything one file yields.
type decoded struct {
	resources []*Resource
	meshes    []*Resource // ConfigMap istio/mesh, Spec *meshconfig.MeshConfig
	secrets   []Secret
	problems  Problems
}

// MeshConfigMapName is the ConfigMap whose `mesh` key holds the MeshConfig, as istiod reads it.
const MeshConfigMapName = "istio"

var yamlLine = regexp.MustCompile(`line (\d+)`)

// decodeFile decodes every YAML document in one file.
func decodeFile(file string, data []byte, firstSeen func(key string) time.Time) *decoded {
	out := &decoded{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			line := 0
			if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
				line, _ = strconv.Atoi(m[1])
			}
			out.problems = append(out.problems, Problem{Origin: Origin{File: file, Line: line}, Reason: "invalid YAML: " + yamlReason(err)})
			return out
		}
		if len(doc.Content) == 0 || isNull(resolve(doc.Content[0])) {
			continue // an empty document, as between two `---`
		}
		out.document(file, resolve(doc.Content[0]), firstSeen)
	}
}

// yamlReason drops yaml.v3's "yaml: line N:" prefix, since the line is printed in front.
func yamlReason(err error) string {
	s := err.Error()
	s = regexp.MustCompile(`^yaml: (line \d+: )?`).ReplaceAllString(s, "")
	return s
}

// object is the parts of a Kubernetes-shaped document before its kind-specific decoding.
type object struct {
	node       *yaml.Node
	apiVersion string
	kind       string
	fields     map[string]*yaml.Node // top-level key -> value
	keys       map[string]*yaml.Node // top-level key -> key node (for lines)
}

func (o *decoded) document(file string, n *yaml.Node, firstSeen func(string) time.Time) {
	at := Origin{File: file, Line: n.Line}
	if n.Kind != yaml.MappingNode {
		o.problems = append(o.problems, Problem{Origin: at, Reason: "a document must be a mapping with apiVersion and kind, got " + describe(n)})
		return
	}
	obj := object{node: n, fields: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		obj.fields[k.Value] = resolve(n.Content[i+1])
		obj.keys[k.Value] = k
	}
	for _, f := range []string{"apiVersion", "kind"} {
		v := obj.fields[f]
		if v == nil || v.Kind != yaml.ScalarNode || v.Value == "" {
			o.problems = append(o.problems, Problem{Origin: at, Field: f, Reason: "required"})
			return
		}
	}
	obj.apiVersion, obj.kind = obj.fields["apiVersion"].Value, obj.fields["kind"].Value
	group, version := splitAPIVersion(obj.apiVersion)

	r := &Resource{Kind: Kind(obj.kind), APIVersion: obj.apiVersion, Origin: at, lines: map[string]int{}}
	r.Namespace, r.Name = peekName(obj) // for messages before metadata is decoded
	d := &protoDecoder{lines: r.lines}
	switch {
	case group == "" && version == "v1" && obj.kind == "Secret":
		o.secret(file, obj, r, d)
		return
	case group == "" && version == "v1" && obj.kind == "ConfigMap":
		o.configMap(file, obj, r, d, firstSeen)
		return
	case group == GatehouseGroup && gatehouseKinds[Kind(obj.kind)] != nil:
		if version != "v1alpha1" {
			o.problems = append(o.problems, problemAt(Error, r, "apiVersion", fmt.Sprintf("%s is not a served version of %s (served: %s/v1alpha1)", obj.apiVersion, obj.kind, GatehouseGroup)))
			return
		}
		if !o.meta(obj, r, d, "spec") {
			return
		}
		if spec := gatehouseKinds[Kind(obj.kind)](file, obj.fields["spec"], r, d); spec != nil {
			r.Spec = spec
		}
	default:
		sk, ok := servedKinds[Kind(obj.kind)]
		if !ok || sk.group != group {
			o.problems = append(o.problems, Problem{Severity: Warning, Origin: at, Resource: obj.kind + "/" + r.Namespace + "/" + r.Name,
				Reason: fmt.Sprintf("kind %s (%s) is not served by Gatehouse; ignored", obj.kind, obj.apiVersion)})
			return
		}
		if !servesVersion(sk, version) {
			o.problems = append(o.problems, problemAt(Error, r, "apiVersion", fmt.Sprintf("%s is not a served version of %s (served: %s)", obj.apiVersion, obj.kind, versionList(sk))))
			return
		}
		if !o.meta(obj, r, d, "spec") {
			return
		}
		spec := sk.newSpec()
		if d.decode(obj.fields["spec"], "spec", spec) {
			r.Spec = spec
		}
	}
	if len(d.errors) > 0 {
		o.fieldErrors(r, d)
		return
	}
	r.FirstSeen = firstSeen(r.Key())
	o.resources = append(o.resources, r)
}

func versionList(sk servedKind) string {
	s := ""
	for i, v := range sk.versions {
		if i > 0 {
			s += ", "
		}
		s += sk.group + "/" + v
	}
	return s
}

func (o *decoded) fieldErrors(r *Resource, d *protoDecoder) {
	for _, e := range d.errors {
		o.problems = append(o.problems, Problem{Origin: Origin{File: r.Origin.File, Line: e.line}, Resource: r.Key(), Field: e.path, Reason: e.reason})
	}
}

// meta decodes metadata and rejects top-level keys other than apiVersion, kind, metadata, status
// and the allowed body keys. It reports and returns false when the resource cannot be named.
func (o *decoded) meta(obj object, r *Resource, d *protoDecoder, body ...string) bool {
	allowed := map[string]bool{"apiVersion": true, "kind": true, "metadata": true, "status": true}
	for _, b := range body {
		allowed[b] = true
	}
	for k, kn := range obj.keys {
		r.lines[k] = kn.Line
		if !allowed[k] {
			d.fail(kn, k, "unknown field %q in %s", k, obj.kind)
		}
	}
	md := obj.fields["metadata"]
	if md == nil || md.Kind != yaml.MappingNode {
		o.problems = append(o.problems, Problem{Origin: r.Origin, Resource: obj.kind, Field: "metadata.name", Reason: "required"})
		return false
	}
	decodeMeta(md, r, d)
	if r.Name == "" {
		o.problems = append(o.problems, Problem{Origin: Origin{File: r.Origin.File, Line: md.Line}, Resource: obj.kind, Field: "metadata.name", Reason: "required"})
		return false
	}
	if r.Namespace == "" {
		r.Namespace = DefaultNamespace
	}
	return true
}

// ignoredMeta are metadata fields Kubernetes sets; they appear in `kubectl get -o yaml` output and
// mean nothing to Gatehouse.
var ignoredMeta = map[string]bool{
	"uid": true, "resourceVersion": true, "generation": true, "managedFields": true, "ownerReferences": true,
	"finalizers": true, "generateName": true, "selfLink": true, "deletionTimestamp": true,
	"deletionGracePeriodSeconds": true,
}

func decodeMeta(md *yaml.Node, r *Resource, d *protoDecoder) {
	for i := 0; i+1 < len(md.Content); i += 2 {
		k, v := resolve(md.Content[i]), resolve(md.Content[i+1])
		path := "metadata." + k.Value
		r.lines[path] = k.Line
		switch k.Value {
		case "name", "namespace":
			if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
				d.fail(v, path, "expected a string, got %s", describe(v))
				continue
			}
			var errs []string
			if k.Value == "name" {
				r.Name = v.Value
				errs = k8svalidation.IsDNS1123Subdomain(v.Value)
			} else {
				r.Namespace = v.Value
				errs = k8svalidation.IsDNS1123Label(v.Value)
			}
			for _, e := range errs {
				d.fail(v, path, "%q: %s", v.Value, e)
			}
		case "labels", "annotations":
			m := stringMap(v, path, d)
			if k.Value == "labels" {
				r.Labels = m
				for lk, lv := range m {
					for _, e := range k8svalidation.IsQualifiedName(lk) {
						d.fail(v, path+"."+lk, "label key: %s", e)
					}
					for _, e := range k8svalidation.IsValidLabelValue(lv) {
						d.fail(v, path+"."+lk, "label value %q: %s", lv, e)
					}
				}
			} else {
				r.Annotations = m
			}
		case "creationTimestamp":
			if isNull(v) {
				continue
			}
			t, err := time.Parse(time.RFC3339, v.Value)
			if err != nil {
				d.fail(v, path, "expected an RFC 3339 timestamp such as 2024-01-02T15:04:05Z, got %s", describe(v))
				continue
			}
			r.CreationTimestamp = t
		default:
			if !ignoredMeta[k.Value] {
				d.fail(k, path, "unknown field %q in metadata", k.Value)
			}
		}
	}
}

func stringMap(n *yaml.Node, path string, d *protoDecoder) map[string]string {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping of strings, got %s", describe(n))
		return nil
	}
	m := make(map[string]string, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		d.lines[path+"."+k.Value] = k.Line
		if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
			d.fail(v, path+"."+k.Value, "expected a string, got %s (quote it: \"%s\")", describe(v), v.Value)
			continue
		}
		m[k.Value] = v.Value
	}
	return m
}

func (o *decoded) secret(file string, obj object, r *Resource, d *protoDecoder) {
	if !o.meta(obj, r, d, "type", "data", "stringData", "immutable") {
		return
	}
	s := Secret{Namespace: r.Namespace, Name: r.Name, Type: "Opaque", Data: map[string][]byte{}, Origin: r.Origin}
	if t := obj.fields["type"]; t != nil && !isNull(t) {
		s.Type = t.Value
	}
	if data := obj.fields["data"]; data != nil {
		for k, v := range stringMap(data, "data", d) {
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				// Never echo the value: it is secret material.
				d.fail(data, "data."+k, "value is not valid base64 (use stringData for plain text)")
				continue
			}
			s.Data[k] = b
		}
	}
	for k, v := range stringMap(obj.fields["stringData"], "stringData", d) {
		s.Data[k] = []byte(v)
	}
	for k := range s.Data {
		for _, e := range k8svalidation.IsConfigMapKey(k) {
			d.fail(obj.fields["data"], "data."+k, "key: %s", e)
		}
	}
	if len(d.errors) > 0 {
		o.fieldErrors(r, d)
		return
	}
	o.secrets = append(o.secrets, s)
}

// configMap reads the `istio` ConfigMap's `mesh` key as a MeshConfig; any other ConfigMap is ignored.
func (o *decoded) configMap(file string, obj object, r *Resource, d *protoDecoder, firstSeen func(string) time.Time) {
	if !o.meta(obj, r, d, "data", "binaryData", "immutable") {
		return
	}
	if r.Name != MeshConfigMapName {
		o.problems = append(o.problems, Problem{Severity: Warning, Origin: r.Origin, Resource: r.Key(),
			Reason: "only the ConfigMap named " + MeshConfigMapName + " (MeshConfig) is read; ignored"})
		return
	}
	data := obj.fields["data"]
	var mesh *yaml.Node
	if data != nil && data.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(data.Content); i += 2 {
			if resolve(data.Content[i]).Value == "mesh" {
				mesh = resolve(data.Content[i+1])
				r.lines["data.mesh"] = data.Content[i].Line
			}
		}
	}
	mc := &meshconfig.MeshConfig{}
	if mesh != nil && !isNull(mesh) {
		inner, err := parseEmbedded(mesh)
		if err != nil {
			d.fail(mesh, "data.mesh", "invalid YAML: %s", yamlReason(err))
		} else if inner != nil {
			d.decode(inner, "data.mesh", mc)
		}
	}
	if len(d.errors) > 0 {
		o.fieldErrors(r, d)
		return
	}
	r.Kind = "ConfigMap"
	r.Spec = mc
	r.FirstSeen = firstSeen(r.Key())
	o.meshes = append(o.meshes, r)
}

// parseEmbedded parses YAML held in a string value (a ConfigMap key) and shifts its line numbers so
// they point into the outer file.
func parseEmbedded(v *yaml.Node) (*yaml.Node, error) {
	if v.Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("expected a string holding YAML, got %s", describe(v))
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(v.Value), &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	offset := v.Line - 1
	if v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		offset = v.Line // a block scalar starts on the line after its indicator
	}
	shiftLines(doc.Content[0], offset)
	return doc.Content[0], nil
}

func shiftLines(n *yaml.Node, by int) {
	n.Line += by
	for _, c := range n.Content {
		shiftLines(c, by)
	}
}

// peekName reads metadata namespace and name without checking them, for messages about a
// resource that is rejected before its metadata is decoded.
func peekName(obj object) (namespace, name string) {
	namespace = DefaultNamespace
	if md := obj.fields["metadata"]; md != nil && md.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(md.Content); i += 2 {
			switch resolve(md.Content[i]).Value {
			case "name":
				name = resolve(md.Content[i+1]).Value
			case "namespace":
				namespace = resolve(md.Content[i+1]).Value
			}
		}
	}
	return namespace, name
}

// gatehouseKinds decode the specs of Gatehouse's own kinds, all served at v1alpha1; each returns
// nil when the spec has errors, which it adds to d.
var gatehouseKinds = map[Kind]func(file string, spec *yaml.Node, r *Resource, d *protoDecoder) any{
	KindSettings: func(file string, spec *yaml.Node, _ *Resource, d *protoDecoder) any {
		var s Settings
		if !decodeStruct(spec, "spec", &s, d) {
			return nil
		}
		decodeOPA(file, spec, &s, d)
		decodeCA(spec, &s, d)
		return s.withDefaults()
	},
	KindOIDCLogin: func(_ string, spec *yaml.Node, r *Resource, d *protoDecoder) any {
		if o := decodeOIDCLogin(spec, r, d); o != nil {
			return o
		}
		return nil
	},
	KindACMEIssuer: func(_ string, spec *yaml.Node, r *Resource, d *protoDecoder) any {
		if a := decodeACMEIssuer(spec, r, d); a != nil {
			return a
		}
		return nil
	},
	KindBootstrapToken: func(_ string, spec *yaml.Node, r *Resource, d *protoDecoder) any {
		if b := decodeBootstrapToken(spec, r, d); b != nil {
			return b
		}
		return nil
	},
}
