package sds

import (
	"context"
	"fmt"
	"slices"
	"strings"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// RemotePeer is the workload a proxy connecting from elsewhere proved it is, with the workload
// certificate it presented: what it may see is decided by that, never by what its node says.
type RemotePeer struct {
	Namespace, ServiceAccount string
}

// NodeMetadataServiceAccount is the node metadata key Istio's proxies carry their service
// account in.
const NodeMetadataServiceAccount = "SERVICE_ACCOUNT"

// checkRemote enforces Istio's rule for a remote proxy: it speaks for its own identity only, so
// its node must name the certificate's namespace (and service account, when it names one), and
// it sees the secrets of that namespace, never the server's own workload certificate nor the
// server's local files.
func checkRemote(p *RemotePeer, node *core.Node, typeURL string, names []string) error {
	if ns := NodeNamespace(node, ""); ns != p.Namespace {
		return status.Errorf(codes.PermissionDenied, "node %q names namespace %q, but its certificate is for %q", node.GetId(), ns, p.Namespace)
	}
	if parts := strings.Split(node.GetId(), "~"); len(parts) == 4 {
		if idNS := NodeNamespace(&core.Node{Id: node.GetId()}, p.Namespace); idNS != p.Namespace {
			return status.Errorf(codes.PermissionDenied, "node id %q is in namespace %q, but its certificate is for %q", node.GetId(), idNS, p.Namespace)
		}
	}
	if v, ok := node.GetMetadata().GetFields()[NodeMetadataServiceAccount]; ok && v.GetStringValue() != p.ServiceAccount {
		return status.Errorf(codes.PermissionDenied, "node %q names service account %q, but its certificate is for %q", node.GetId(), v.GetStringValue(), p.ServiceAccount)
	}
	if typeURL != resourcev3.SecretType {
		return nil
	}
	if i := slices.IndexFunc(names, func(n string) bool {
		return n == WorkloadCertResource || strings.HasPrefix(n, FileCertPrefix) || strings.HasPrefix(n, FileRootPrefix)
	}); i >= 0 {
		return status.Errorf(codes.PermissionDenied, "secret %q is not served to remote proxies: a workload's own certificate comes from its agent, files are the server's", names[i])
	}
	return nil
}

// remoteOf returns the stream's remote peer (nil for a local stream) as ServerOptions.Peer
// says, as a gRPC status when the stream must be refused.
func (c *callbacks) remoteOf(ctx context.Context) (*RemotePeer, error) {
	if c.peerOf == nil {
		return nil, nil
	}
	p, err := c.peerOf(ctx)
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, fmt.Sprintf("xDS: %v", err))
	}
	return p, nil
}
