package policy

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
)

// Kind is a resource kind as written in YAML (`kind:`).
type Kind string

// The kinds Gatehouse serves.
const (
	KindGateway               Kind = "Gateway"
	KindVirtualService        Kind = "VirtualService"
	KindDestinationRule       Kind = "DestinationRule"
	KindServiceEntry          Kind = "ServiceEntry"
	KindWorkloadEntry         Kind = "WorkloadEntry"
	KindPeerAuthentication    Kind = "PeerAuthentication"
	KindRequestAuthentication Kind = "RequestAuthentication"
	KindAuthorizationPolicy   Kind = "AuthorizationPolicy"
	// KindSettings is the Gatehouse kind (gatehouse.dev/v1alpha1) for what MeshConfig lacks.
	KindSettings Kind = "Settings"
)

// DefaultNamespace is where a resource without metadata.namespace lives, as with kubectl.
const DefaultNamespace = "default"

// Origin is where a resource (or one of its fields) was written.
type Origin struct {
	File string
	Line int
}

func (o Origin) String() string {
	if o.File == "" {
		return "<input>"
	}
	if o.Line == 0 {
		return o.File
	}
	return fmt.Sprintf("%s:%d", o.File, o.Line)
}

// Resource is one decoded, validated config object. Resources in a Snapshot are shared between
// goroutines and must be treated as read-only.
type Resource struct {
	Kind        Kind
	APIVersion  string
	Name        string
	Namespace   string
	Labels      map[string]string
	Annotations map[string]string
	// CreationTimestamp is metadata.creationTimestamp, zero when unset.
	CreationTimestamp time.Time
	// FirstSeen is when Gatehouse first loaded a resource with this kind/namespace/name.
	FirstSeen time.Time
	// Spec is the istio.io/api message for Istio kinds, *Settings for the Gatehouse kind.
	Spec   any
	Origin Origin
	// lines maps a field path ("spec.servers[0].tls.mode") to the line it was written on.
	lines map[string]int
}

// Key is "Kind/namespace/name", the form used in every message about the resource.
func (r *Resource) Key() string { return string(r.Kind) + "/" + r.Namespace + "/" + r.Name }

// NamespacedName is "namespace/name".
func (r *Resource) NamespacedName() string { return r.Namespace + "/" + r.Name }

// ProtoSpec returns Spec as a proto message, or nil for non-proto kinds.
func (r *Resource) ProtoSpec() proto.Message {
	m, _ := r.Spec.(proto.Message)
	return m
}

// LineOf returns the line a field path was written on, falling back to the nearest enclosing
// field that was written, then to the resource's own line.
func (r *Resource) LineOf(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := r.lines[p]; ok {
			return l
		}
	}
	return r.Origin.Line
}

// parentPath drops the last element of a field path: "a.b[2]" -> "a.b", "a.b" -> "a".
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

// Age is the time that orders resources where Istio says "the oldest wins":
// metadata.creationTimestamp when set, else the time Gatehouse first saw the resource.
func (r *Resource) Age() time.Time {
	if !r.CreationTimestamp.IsZero() {
		return r.CreationTimestamp
	}
	return r.FirstSeen
}

// Older reports whether a sorts before b: older first, ties broken by namespace then name.
func Older(a, b *Resource) bool {
	ta, tb := a.Age(), b.Age()
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.Name < b.Name
}

// SortOldestFirst orders resources as Istio's "oldest wins" and merge-order rules need.
func SortOldestFirst(rs []*Resource) {
	sort.SliceStable(rs, func(i, j int) bool { return Older(rs[i], rs[j]) })
}
