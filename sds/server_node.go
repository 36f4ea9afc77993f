package sds

import (
	"strings"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// NodeMetadataNamespace is the node metadata key Istio's proxies carry their namespace in.
const NodeMetadataNamespace = "NAMESPACE"

// NodeNamespace returns the namespace a proxy's kubernetes:// names are resolved in: node
// metadata NAMESPACE, else the namespace in an Istio node id
// ("<type>~<ip>~<pod>.<ns>~<ns>.svc.cluster.local"), else fallback.
func NodeNamespace(node *core.Node, fallback string) string {
	if v, ok := node.GetMetadata().GetFields()[NodeMetadataNamespace]; ok {
		if ns := v.GetStringValue(); ns != "" {
			return ns
		}
	}
	parts := strings.Split(node.GetId(), "~")
	if len(parts) != 4 {
		return fallback
	}
	if ns, _, _ := strings.Cut(parts[3], "."); ns != "" {
		return ns
	}
	if _, ns, ok := strings.Cut(parts[2], "."); ok && ns != "" {
		return ns
	}
	return fallback
}
