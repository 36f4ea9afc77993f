package policy

import (
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	networking "istio.io/api/networking/v1alpha3"
	security "istio.io/api/security/v1beta1"
)

// servedKind describes one kind Gatehouse decodes: its API group, served versions and spec type.
type servedKind struct {
	group    string
	versions []string
	newSpec  func() proto.Message
}

// servedKinds are decoded into istio.io/api types. networking.istio.io v1 and v1beta1 are aliases of
// the v1alpha3 messages in istio.io/api, so one message type serves every version.
var servedKinds = map[Kind]servedKind{
	KindGateway:               {"networking.istio.io", networkingVersions, func() proto.Message { return &networking.Gateway{} }},
	KindVirtualService:        {"networking.istio.io", networkingVersions, func() proto.Message { return &networking.VirtualService{} }},
	KindDestinationRule:       {"networking.istio.io", networkingVersions, func() proto.Message { return &networking.DestinationRule{} }},
	KindServiceEntry:          {"networking.istio.io", networkingVersions, func() proto.Message { return &networking.ServiceEntry{} }},
	KindWorkloadEntry:         {"networking.istio.io", networkingVersions, func() proto.Message { return &networking.WorkloadEntry{} }},
	KindPeerAuthentication:    {"security.istio.io", securityVersions, func() proto.Message { return &security.PeerAuthentication{} }},
	KindRequestAuthentication: {"security.istio.io", securityVersions, func() proto.Message { return &security.RequestAuthentication{} }},
	KindAuthorizationPolicy:   {"security.istio.io", securityVersions, func() proto.Message { return &security.AuthorizationPolicy{} }},
}

var (
	networkingVersions = []string{"v1alpha3", "v1beta1", "v1"}
	securityVersions   = []string{"v1beta1", "v1"}
)

// GatehouseGroup is the API group of Gatehouse's own kinds.
const GatehouseGroup = "gatehouse.dev"

// splitAPIVersion splits "group/version"; the core group ("v1") has an empty group.
func splitAPIVersion(apiVersion string) (group, version string) {
	if i := strings.LastIndexByte(apiVersion, '/'); i >= 0 {
		return apiVersion[:i], apiVersion[i+1:]
	}
	return "", apiVersion
}

func servesVersion(k servedKind, version string) bool { return slices.Contains(k.versions, version) }
