package kube

import (
	"fmt"
	"strconv"

	"go.yaml.in/yaml/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// lastApplied is kubectl's copy of the applied object. It is dropped: for a Secret it holds the
// data in plain text, and for anything else it only repeats the object.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// objectRef is the API object a rendered file came from: what an Event about it points at, and
// which generation of it an Event was already recorded for.
type objectRef struct {
	apiVersion, kind, namespace, name string
	uid                               types.UID
	resourceVersion                   string
	// generation is metadata.generation, 0 for kinds without one (ConfigMap, Service).
	generation int64
}

// revision identifies the state of the object an Event is about: its generation where the kind
// has one (status updates do not bump it), else its resourceVersion.
func (r objectRef) revision() string {
	if r.generation > 0 {
		return "g" + strconv.FormatInt(r.generation, 10)
	}
	return "rv" + r.resourceVersion
}

// fileName is how Problems name an object: "kube:<Kind>/<ns>/<name>".
func fileName(kind, namespace, name string) string {
	return "kube:" + kind + "/" + namespace + "/" + name
}

func refOf(apiVersion, kind string, m metav1.Object) objectRef {
	return objectRef{apiVersion: apiVersion, kind: kind, namespace: m.GetNamespace(), name: m.GetName(),
		uid: m.GetUID(), resourceVersion: m.GetResourceVersion(), generation: m.GetGeneration()}
}

// renderedMeta is the metadata policy reads: what the user wrote plus creationTimestamp, which
// orders resources where Istio says the oldest wins.
func renderedMeta(m metav1.Object) map[string]any {
	out := map[string]any{"name": m.GetName()}
	if ns := m.GetNamespace(); ns != "" {
		out["namespace"] = ns
	}
	if l := m.GetLabels(); len(l) > 0 {
		out["labels"] = l
	}
	if a := m.GetAnnotations(); len(a) > 0 {
		kept := make(map[string]string, len(a))
		for k, v := range a {
			if k != lastApplied {
				kept[k] = v
			}
		}
		if len(kept) > 0 {
			out["annotations"] = kept
		}
	}
	if ts := m.GetCreationTimestamp(); !ts.IsZero() {
		out["creationTimestamp"] = ts.UTC().Format("2006-01-02T15:04:05Z")
	}
	if g := m.GetGeneration(); g > 0 {
		out["generation"] = g
	}
	return out
}

// renderObject renders an object (apiVersion, kind and body fields, such as spec or data) as
// YAML for policy.Parse. Status and server-managed metadata are left out. Block-style YAML gives
// Problems a line per field.
func renderObject(apiVersion, kind string, m metav1.Object, body map[string]any) ([]byte, error) {
	return renderDoc(apiVersion, kind, renderedMeta(m), body)
}

// renderDoc renders a document whose metadata is already in the form policy reads.
func renderDoc(apiVersion, kind string, meta, body map[string]any) ([]byte, error) {
	doc := map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": meta}
	for k, v := range body {
		switch k {
		case "apiVersion", "kind", "metadata", "status":
			continue
		}
		doc[k] = v
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("%s %v/%v: render: %w", kind, meta["namespace"], meta["name"], err)
	}
	return b, nil
}
