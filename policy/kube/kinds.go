package kube

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// watchedKind is a custom resource kind policy decodes, with the versions policy accepts, newest
// first: the order to fall back in when the group's preferred version is not one of them.
// It mirrors policy/kinds.go (servedKinds and the Gatehouse kinds); TestWatchedKindsDecode keeps
// the two in step.
type watchedKind struct {
	kind     policy.Kind
	group    string
	versions []string
}

var (
	networkingVersions = []string{"v1", "v1beta1", "v1alpha3"}
	securityVersions   = []string{"v1", "v1beta1"}
	gatehouseVersions  = []string{"v1alpha1"}
)

var watchedKinds = []watchedKind{
	{policy.KindGateway, "networking.istio.io", networkingVersions},
	{policy.KindVirtualService, "networking.istio.io", networkingVersions},
	{policy.KindDestinationRule, "networking.istio.io", networkingVersions},
	{policy.KindServiceEntry, "networking.istio.io", networkingVersions},
	{policy.KindWorkloadEntry, "networking.istio.io", networkingVersions},
	{policy.KindPeerAuthentication, "security.istio.io", securityVersions},
	{policy.KindRequestAuthentication, "security.istio.io", securityVersions},
	{policy.KindAuthorizationPolicy, "security.istio.io", securityVersions},
	{policy.KindSettings, policy.GatehouseGroup, gatehouseVersions},
	{policy.KindOIDCLogin, policy.GatehouseGroup, gatehouseVersions},
	{policy.KindACMEIssuer, policy.GatehouseGroup, gatehouseVersions},
	{policy.KindBootstrapToken, policy.GatehouseGroup, gatehouseVersions},
}

// servedResource is a kind resolved against the API server: the version and plural to watch.
type servedResource struct {
	kind policy.Kind
	gvr  schema.GroupVersionResource
}

// discoverResources resolves every watched kind to the version the API server serves: the
// group's preferred version when policy accepts it (the version `kubectl get` would use, so
// conversion webhooks and storage agree with what users see), else the newest policy accepts
// that is served. Kinds whose CRD is not installed are returned in missing.
func discoverResources(ctx context.Context, d discovery.DiscoveryInterface) (served []servedResource, missing []policy.Kind, err error) {
	groups, err := d.ServerGroups()
	if err != nil {
		return nil, nil, fmt.Errorf("discovery: server groups: %w", err)
	}
	type groupInfo struct {
		preferred string
		versions  []string
	}
	byName := map[string]groupInfo{}
	for _, g := range groups.Groups {
		gi := groupInfo{preferred: g.PreferredVersion.Version}
		for _, v := range g.Versions {
			gi.versions = append(gi.versions, v.Version)
		}
		byName[g.Name] = gi
	}
	// plurals caches, per group/version, kind -> resource name; nil for a version that failed.
	plurals := map[string]map[string]string{}
	plural := func(gv schema.GroupVersion, kind policy.Kind) (string, error) {
		key := gv.String()
		m, seen := plurals[key]
		if !seen {
			list, err := d.ServerResourcesForGroupVersion(key)
			if err != nil {
				return "", fmt.Errorf("discovery: %s: %w", key, err)
			}
			m = map[string]string{}
			for _, r := range list.APIResources {
				if !strings.Contains(r.Name, "/") { // not a subresource such as status
					m[r.Kind] = r.Name
				}
			}
			plurals[key] = m
		}
		return m[string(kind)], nil
	}
	for _, wk := range watchedKinds {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		gi, ok := byName[wk.group]
		if !ok {
			missing = append(missing, wk.kind)
			continue
		}
		order := wk.versions
		if slices.Contains(wk.versions, gi.preferred) {
			order = append([]string{gi.preferred}, wk.versions...)
		}
		found := false
		for _, v := range order {
			if !slices.Contains(gi.versions, v) {
				continue
			}
			gv := schema.GroupVersion{Group: wk.group, Version: v}
			name, err := plural(gv, wk.kind)
			if err != nil {
				return nil, nil, err
			}
			if name != "" {
				served = append(served, servedResource{kind: wk.kind, gvr: gv.WithResource(name)})
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, wk.kind)
		}
	}
	return served, missing, nil
}
