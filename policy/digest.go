package policy

import (
	"crypto/sha256"
	"encoding/json"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
)

// digest fingerprints what a Snapshot would hold, so a reload that changes nothing a component
// compiles (a Secret's data, comments, reordered files) publishes no new snapshot.
func (c *Config) digest() [32]byte {
	h := sha256.New()
	write := func(parts ...string) {
		for _, p := range parts {
			h.Write([]byte(p))
			h.Write([]byte{0})
		}
	}
	marshal := func(v any) string {
		if m, ok := v.(proto.Message); ok {
			b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(m)
			return string(b)
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	rs := slices.Clone(c.Resources)
	slices.SortFunc(rs, func(a, b *Resource) int { return strings.Compare(a.Key(), b.Key()) })
	for _, r := range rs {
		labels, _ := json.Marshal(r.Labels)
		annotations, _ := json.Marshal(r.Annotations)
		write(r.Key(), r.APIVersion, string(labels), string(annotations), r.CreationTimestamp.String(), r.FirstSeen.String(), marshal(r.Spec))
	}
	write("mesh", marshal(c.Mesh), "settings", marshal(c.Settings))
	names := make([]string, 0, len(c.Secrets))
	for _, s := range c.Secrets {
		names = append(names, s.Namespace+"/"+s.Name)
	}
	slices.Sort(names)
	write(names...)
	var d [32]byte
	copy(d[:], h.Sum(nil))
	return d
}
