package meshxds

import (
	"errors"
	"fmt"
	"strings"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// Node metadata keys istio-agent sets, read here to know which workload a proxy fronts.
const (
	metaNamespace      = "NAMESPACE"
	metaServiceAccount = "SERVICE_ACCOUNT"
	metaLabels         = "LABELS"
	metaName           = "NAME"
	metaInstanceIPs    = "INSTANCE_IPS"
)

// sidecarType is the first field of an Istio sidecar's node id; gateways say "router".
const sidecarType = "sidecar"

// Proxy is a connected sidecar, from its node (Istio node id "sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local" and
// metadata NAMESPACE, SERVICE_ACCOUNT, LABELS, as istio-agent sends them).
type Proxy struct {
	ID, Namespace, ServiceAccount string
	Labels                        map[string]string
	IP                            string
}

// ProxyFromNode reads the workload identity a sidecar announces. Metadata wins over the node id,
// as in istiod, because istio-agent always sends it; the id fills in what metadata lacks. A node
// whose Istio id names another proxy type (a "router" gateway) is refused: it has no sidecar
// inbound listener.
func ProxyFromNode(n *core.Node) (Proxy, error) {
	if n == nil || n.GetId() == "" {
		return Proxy{}, errors.New("node: id: empty")
	}
	p := Proxy{ID: n.GetId()}
	if parts := strings.Split(n.GetId(), "~"); len(parts) == 4 {
		if parts[0] != sidecarType {
			return Proxy{}, fmt.Errorf("node %q: id: proxy type %q is not %q", n.GetId(), parts[0], sidecarType)
		}
		p.IP = parts[1]
		if _, ns, ok := strings.Cut(parts[2], "."); ok {
			p.Namespace = ns
		}
		if ns, _, _ := strings.Cut(parts[3], "."); ns != "" {
			p.Namespace = ns
		}
	}
	fields := n.GetMetadata().GetFields()
	if ns := fields[metaNamespace].GetStringValue(); ns != "" {
		p.Namespace = ns
	}
	p.ServiceAccount = fields[metaServiceAccount].GetStringValue()
	if labels := fields[metaLabels].GetStructValue().GetFields(); len(labels) > 0 {
		p.Labels = make(map[string]string, len(labels))
		for k, v := range labels {
			p.Labels[k] = v.GetStringValue()
		}
	}
	if p.IP == "" {
		p.IP, _, _ = strings.Cut(fields[metaInstanceIPs].GetStringValue(), ",")
	}
	if p.Namespace == "" {
		return Proxy{}, fmt.Errorf("node %q: metadata.%s: empty, and the id names no namespace", n.GetId(), metaNamespace)
	}
	return p, nil
}
