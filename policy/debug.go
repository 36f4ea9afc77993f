package policy

import (
	"encoding/json"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// DebugJSON renders a snapshot for /debug/config: every resource with its origin and spec, the
// effective MeshConfig and Settings, credential names (never their data) and warnings.
func DebugJSON(s *Snapshot) ([]byte, error) {
	if s == nil {
		return json.Marshal(map[string]any{"version": 0, "error": "no config applied yet"})
	}
	type resource struct {
		Kind        Kind              `json:"kind"`
		APIVersion  string            `json:"apiVersion"`
		Namespace   string            `json:"namespace"`
		Name        string            `json:"name"`
		Labels      map[string]string `json:"labels,omitempty"`
		Origin      string            `json:"origin"`
		Created     string            `json:"creationTimestamp,omitempty"`
		FirstSeen   string            `json:"firstSeen,omitempty"`
		Spec        json.RawMessage   `json:"spec"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}
	out := struct {
		Version     uint64          `json:"version"`
		Mesh        json.RawMessage `json:"mesh"`
		Settings    *Settings       `json:"settings"`
		Resources   []resource      `json:"resources"`
		Credentials []string        `json:"credentials"`
		Warnings    []string        `json:"warnings"`
	}{Version: s.Version, Settings: s.Settings, Credentials: s.Credentials(), Resources: []resource{}, Warnings: []string{}}
	var err error
	if out.Mesh, err = specJSON(s.Mesh); err != nil {
		return nil, err
	}
	for _, r := range s.Resources() {
		spec, err := specJSON(r.Spec)
		if err != nil {
			return nil, err
		}
		d := resource{Kind: r.Kind, APIVersion: r.APIVersion, Namespace: r.Namespace, Name: r.Name, Labels: r.Labels,
			Annotations: r.Annotations, Origin: r.Origin.String(), Spec: spec}
		if !r.CreationTimestamp.IsZero() {
			d.Created = r.CreationTimestamp.UTC().Format("2006-01-02T15:04:05Z")
		}
		if !r.FirstSeen.IsZero() {
			d.FirstSeen = r.FirstSeen.UTC().Format("2006-01-02T15:04:05.000Z")
		}
		out.Resources = append(out.Resources, d)
	}
	for _, w := range s.Warnings {
		out.Warnings = append(out.Warnings, w.String())
	}
	return json.MarshalIndent(out, "", "  ")
}

func specJSON(v any) (json.RawMessage, error) {
	if m, ok := v.(proto.Message); ok {
		return protojson.Marshal(m)
	}
	return json.Marshal(v)
}
