package sds

import (
	"maps"
	"slices"
	"strconv"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// resolved is the set of resources a subscription names that exist now, computed once per
// request or per Store change.
type resolved struct {
	version   uint64 // the Store version the resources were read at (or later)
	resources map[string]*secretResource
}

// changed reports whether the client lacks any of the resources or has an older version.
func (r resolved) changed(returned map[string]string) bool {
	for name, res := range r.resources {
		if returned[name] != res.version {
			return true
		}
	}
	return false
}

func (r resolved) versions() map[string]string {
	out := make(map[string]string, len(r.resources))
	for name, res := range r.resources {
		out[name] = res.version
	}
	return out
}

func (r resolved) discoveryResponse(req *cachev3.Request) (*cachev3.PassthroughResponse, error) {
	resp := &discovery.DiscoveryResponse{VersionInfo: strconv.FormatUint(r.version, 10), TypeUrl: resourcev3.SecretType}
	for _, name := range slices.Sorted(maps.Keys(r.resources)) {
		a, err := anypb.New(r.resources[name].secret)
		if err != nil {
			return nil, err
		}
		resp.Resources = append(resp.Resources, a)
	}
	// The returned versions are per resource (not the response version): the cache compares
	// them with what a change produces, so a proxy that NACKed a response is not sent the same
	// response again, only the next change.
	return &cachev3.PassthroughResponse{Request: req, DiscoveryResponse: resp, ReturnedResources: r.versions()}, nil
}

// deltaResponse is nil when the stream is up to date.
func (r resolved) deltaResponse(req *cachev3.DeltaRequest, sub cachev3.Subscription) *cachev3.DeltaPassthroughResponse {
	returned := sub.ReturnedResources()
	resp := &discovery.DeltaDiscoveryResponse{SystemVersionInfo: strconv.FormatUint(r.version, 10), TypeUrl: resourcev3.SecretType}
	for _, name := range slices.Sorted(maps.Keys(r.resources)) {
		res := r.resources[name]
		if returned[name] == res.version {
			continue
		}
		a, err := anypb.New(res.secret)
		if err != nil {
			continue // a Secret always marshals; skipping keeps the stream's other resources flowing
		}
		resp.Resources = append(resp.Resources, &discovery.Resource{Name: name, Version: res.version, Resource: a})
	}
	for _, name := range slices.Sorted(maps.Keys(returned)) {
		_, subscribed := sub.SubscribedResources()[name]
		if _, exists := r.resources[name]; subscribed && !exists {
			resp.RemovedResources = append(resp.RemovedResources, name)
		}
	}
	if len(resp.Resources) == 0 && len(resp.RemovedResources) == 0 {
		return nil
	}
	return &cachev3.DeltaPassthroughResponse{DeltaRequest: req, DeltaDiscoveryResponse: resp, NextVersionMap: r.versions()}
}
